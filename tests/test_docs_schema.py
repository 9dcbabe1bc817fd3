"""docs/schema.md is what bench/schema_doc.py makes from a fresh database."""

from __future__ import annotations

import sys

from pipelines import PROJECT_ROOT

sys.path.insert(0, str(PROJECT_ROOT / "bench"))

from schema_doc import COMMAND, OUT, render


def test_schema_page_is_up_to_date() -> None:
    fresh = render()
    committed = OUT.read_text(encoding="utf-8") if OUT.exists() else ""
    assert committed == fresh, f"docs/schema.md is out of date with the migrations: run `{COMMAND}`"


def test_schema_page_lists_every_table_with_a_description() -> None:
    fresh = render()
    for table in ("runs", "observations", "claims", "responses", "current_observations"):
        assert f"\n## {table}\n" in fresh
    assert "no description yet" not in fresh, (
        f"a table has no description: add it to bench/schema_doc.py, then run `{COMMAND}`"
    )
