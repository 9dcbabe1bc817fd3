"""Which sections a report has, and writing it to a file.

A report is an ordered list of named sections. Each section is JSON-able data
built here from the store and rendered in the page by the view script of the
same name (`assets/<name>.js`). Another view (a run diff, say) is one more
section and one more script; the claims section does not change for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from extract.browser.claims import claims_section
from extract.browser.page import render_page
from extract.errors import NotFound
from extract.store import Database
from extract.store.runs import run_exists


@dataclass(frozen=True)
class Report:
    html: str
    counts: dict[str, int]  # the claims section's header counts


@dataclass(frozen=True)
class ReportSummary:
    path: Path
    claims: int
    hidden: int
    size_bytes: int


def build_report(db: Database, run: str | None = None) -> Report:
    """The whole HTML document: every current claim, or those observed in `run`."""
    if run is not None and not run_exists(db, run):
        raise NotFound(f"no run {run} (list them with `extract runs`)")
    claims = claims_section(db, run)
    title = "Claims" if run is None else f"Claims of run {run}"
    return Report(html=render_page(title, {"claims": claims}), counts=claims["counts"])


def write_report(db: Database, out: Path, run: str | None = None) -> ReportSummary:
    report = build_report(db, run)
    document = report.html.encode("utf-8")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(document)
    return ReportSummary(out, report.counts["claims"], report.counts["hidden"], len(document))
