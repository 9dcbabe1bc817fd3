"""`extract report`: the static HTML claims browser."""

from __future__ import annotations

from pathlib import Path

import click

from extract.browser import write_report
from extract.cli.common import db_option, handle_errors
from extract.pipeline import database_path
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
@db_option
@handle_errors
def report(out: Path, run_id: str | None, db: Path | None) -> None:
    """Write the claims browser: one self-contained HTML file (no network, works from
    file://) with header counts, facets, search, and every claim with its sources
    and evidence.

    \b
    Examples:
      extract report                       # ./claims.html
      extract report --out runs/a.html --run run-20261122T101500-ab12
    """
    with open_database(database_path(None, db), read_only=True) as database:
        s = write_report(database, out, run_id)
    click.echo(f"wrote {s.claims} claim(s) ({s.hidden} hidden by the hide rule) to {s.path}", err=True)
