"""`extract export`: write a table as JSONL, CSV or Parquet."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from extract.cli.common import db_option, handle_errors
from extract.pipeline import database_path
from extract.store import open_database
from extract.store.export import FORMATS, TABLES, export_table


@click.command()
@click.argument("table", type=click.Choice(TABLES), metavar="TABLE")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="jsonl", show_default=True)
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False), help="Output file (default: stdout).")
@db_option
@handle_errors
def export(table: str, fmt: str, out: Path | None, db: Path | None) -> None:
    """Export a table.

    \b
    Examples:
      extract export observations --format jsonl > observations.jsonl
      extract export claims --format parquet --out claims.parquet
    """
    with open_database(database_path(None, db), read_only=True) as database:
        n = export_table(database, table, fmt, out, sys.stdout)
    if out is not None:
        click.echo(f"wrote {n} row(s) to {out}", err=True)
