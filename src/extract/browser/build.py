"""Which sections a report has, and writing it to a file.

A report is an ordered list of named sections. Each section is JSON-able data
built here from the store and rendered in the page by the view script of the
same name (`assets/<name>.js`): a run diff when one is given (`diff`, first),
then the claims (`claims`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from extract.browser.claims import claims_section
from extract.browser.diff import diff_section
from extract.browser.page import render_page
from extract.store import Database
from extract.store.diffs import resolve_run


@dataclass(frozen=True)
class Report:
    html: str
    counts: dict[str, int]  # the claims section's header counts
    changes: int | None  # the diff's changed claims; None without a diff


@dataclass(frozen=True)
class ReportSummary:
    path: Path
    claims: int
    hidden: int
    size_bytes: int
    changes: int | None


def build_report(db: Database, run: str | None = None, diff: dict[str, Any] | None = None) -> Report:
    """The whole HTML document: every current claim, or those observed in `run`; with a
    run diff (as `extract.pipeline.diff_runs` returns it), the diff view above them."""
    if run is not None:
        run = resolve_run(db, run)
    claims = claims_section(db, run)
    sections: dict[str, Any] = {}
    if diff is not None:
        sections["diff"] = diff_section(diff, [c["id"] for c in claims["claims"]])
        title = f"Diff {diff['run_a']['run_id']} → {diff['run_b']['run_id']}"
    else:
        title = "Claims" if run is None else f"Claims of run {run}"
    sections["claims"] = claims
    changes = None if diff is None else len(diff["changes"])
    return Report(html=render_page(title, sections), counts=claims["counts"], changes=changes)


def write_report(db: Database, out: Path, run: str | None = None, diff: dict[str, Any] | None = None) -> ReportSummary:
    report = build_report(db, run, diff)
    document = report.html.encode("utf-8")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(document)
    return ReportSummary(out, report.counts["claims"], report.counts["hidden"], len(document), report.changes)
