"""The diff section: a run diff (`extract diff`'s structure, schema `extract.diff/1`)
as the data `assets/diff.js` renders.

The browser does not compute diffs: that is `extract.pipeline.diff`, a layer above
this one, so the command passes the diff in. This section adds only what the page
needs besides it: the order of the change kinds, and which changed claims have a
card in the claims section to link to.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

DIFF_SCHEMA = "extract.diff/1"


def diff_section(diff: dict[str, Any], listed: Collection[str]) -> dict[str, Any]:
    """The section for `diff`; `listed` holds the ids of the claims the claims section shows."""
    if diff.get("schema") != DIFF_SCHEMA:
        raise ValueError(f"not a run diff of schema {DIFF_SCHEMA}: {diff.get('schema')!r}")
    listed = set(listed)
    return {
        "diff": diff,
        # `summary.by_kind` is built in the kinds' documented order; the page keeps it.
        "kinds": list(diff["summary"]["by_kind"]),
        "linked": sorted(c["claim_id"] for c in diff["changes"] if c["claim_id"] in listed),
    }
