"""The pipeline layer: each command's library function, on top of the stages.

`run` knows the order of the stages; `plan`, `batches`, `importing`, `topics` and
`diff` serve the other commands; `common` holds what they share, `work` the
work `run` does and `plan` predicts, `storing` how runs and imports store a
batch of observations.

The names below load their module when first used: a command loads what it needs
(`extract plan` never loads the OpenAI SDK or DuckDB for an offline plan).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from extract.pipeline.batches import batch_overview, collect_pipeline_batches
    from extract.pipeline.common import (
        DEFAULT_DB,
        InputCounts,
        Progress,
        RunOptions,
        SilentProgress,
        database_path,
        expand_inputs,
    )
    from extract.pipeline.diff import KINDS, diff_runs, failing_kinds
    from extract.pipeline.importing import ImportSummary, import_observations
    from extract.pipeline.plan import PlanSummary, plan_pipeline
    from extract.pipeline.run import RunInterrupted, RunSummary, run_pipeline
    from extract.pipeline.topics import topics_overview_of

_MODULES = {
    "batches": ("batch_overview", "collect_pipeline_batches"),
    "common": (
        "DEFAULT_DB",
        "InputCounts",
        "Progress",
        "RunOptions",
        "SilentProgress",
        "database_path",
        "expand_inputs",
    ),
    "diff": ("KINDS", "diff_runs", "failing_kinds"),
    "importing": ("ImportSummary", "import_observations"),
    "plan": ("PlanSummary", "plan_pipeline"),
    "run": ("RunInterrupted", "RunSummary", "run_pipeline"),
    "topics": ("topics_overview_of",),
}
_HOME = {name: module for module, names in _MODULES.items() for name in names}

__all__ = [
    "DEFAULT_DB",
    "KINDS",
    "ImportSummary",
    "InputCounts",
    "PlanSummary",
    "Progress",
    "RunInterrupted",
    "RunOptions",
    "RunSummary",
    "SilentProgress",
    "batch_overview",
    "collect_pipeline_batches",
    "database_path",
    "diff_runs",
    "expand_inputs",
    "failing_kinds",
    "import_observations",
    "plan_pipeline",
    "run_pipeline",
    "topics_overview_of",
]


def __getattr__(name: str) -> Any:
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
