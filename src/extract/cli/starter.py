"""`extract init`: write a commented starter pipeline file for a folder of dumps."""

from __future__ import annotations

import shlex
from pathlib import Path

import click

from extract.cli.common import handle_errors
from extract.cli.run import BarProgress
from extract.pipeline.starter import DEFAULT_FILE, write_starter


@click.command()
@click.argument("directory", metavar="[DIR]", default=".", type=click.Path(path_type=Path, file_okay=False))
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    help=f"Write this file instead of ./{DEFAULT_FILE} (never over an existing one).",
)
@handle_errors
def init(directory: Path, out: Path | None) -> None:
    """Write a commented starter pipeline file for the dumps in DIR (default: here).

    The file is ./extract.toml (or --out FILE): the offline heuristic model with
    response_format "auto" ready for a real one, the default taxonomy, DIR as the
    input, and one topic per term that recurs in the titles of the dumps' records.
    Every section is commented; edit it, then run it. An existing file is never
    replaced: init stops with exit code 2.

    \b
    Examples:
      extract init dumps/
      extract run extract.toml
      extract init ~/papers --out papers.toml
    """
    summary = write_starter(directory, out, BarProgress(quiet=False))
    slugs = ", ".join(t.slug for t in summary.topics) or "none recur in the titles; add your own"
    click.echo(
        f"wrote {summary.path}: {summary.documents} document(s), {summary.records} record(s),"
        f" {len(summary.topics)} topic(s) ({slugs})"
    )
    click.echo(f"next: extract run {shlex.quote(str(summary.path))}")
