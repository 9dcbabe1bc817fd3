"""`extract report`: the static HTML claims browser, with a run diff view on request."""

from __future__ import annotations

from pathlib import Path

import click

from extract.browser import write_report
from extract.cli.common import db_option, fail, handle_errors
from extract.pipeline import database_path, diff_runs
from extract.store import open_database


@click.command()
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    default=Path("claims.html"),
    show_default=True,
    help="The HTML file to write.",
)
@click.option("--run", "run_id", metavar="RUN", help="Only claims observed in this run (see `extract runs`).")
@click.option(
    "--diff",
    "diff_refs",
    nargs=2,
    metavar="RUN_A RUN_B",
    help="Add a view of what changed from RUN_A to RUN_B above the claims (runs named as `extract diff` takes them).",
)
@click.option(
    "--topic",
    metavar="SLUG",
    help="With --diff: compare only this topic's claims (default: the topic of a `run --topic` run).",
)
@db_option
@handle_errors
def report(
    out: Path, run_id: str | None, diff_refs: tuple[str, str] | None, topic: str | None, db: Path | None
) -> None:
    """Write the claims browser: one self-contained HTML file (no network, works from
    file://) with header counts, facets, search, and every claim with its sources
    and evidence.

    With --diff, the page opens with the diff of two runs (as `extract diff` computes
    it): the runs, a stat table by topic, and the changed claims with their kinds and
    details, filtered by kind, each linked to its card in the claims below when it has one.

    \b
    Examples:
      extract report                       # ./claims.html
      extract report --out runs/a.html --run run-20261122T101500-ab12
      extract report --diff previous latest --out diff.html
      extract report --diff run-20261122T101500-ab12 latest --topic moe-routing
    """
    if topic is not None and not diff_refs:
        fail("--topic needs --diff RUN_A RUN_B")
    path = database_path(None, db)
    diff = diff_runs(path, *diff_refs, topic) if diff_refs else None
    with open_database(path, read_only=True) as database:
        s = write_report(database, out, run_id, diff)
    changes = "" if s.changes is None else f" and a diff of {s.changes} changed claim(s)"
    click.echo(f"wrote {s.claims} claim(s) ({s.hidden} hidden by the hide rule){changes} to {s.path}", err=True)
