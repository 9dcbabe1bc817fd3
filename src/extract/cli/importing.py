"""`extract import`: observations made elsewhere, merged into the claims."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn

from extract.cli.common import db_option, handle_errors, json_option, print_json, warn_unanswered
from extract.config import load_pipeline
from extract.pipeline import ImportSummary, database_path, import_observations
from extract.pipeline.importing import ImportProgress


@click.command(name="import")
@click.argument("observations_file", metavar="OBSERVATIONS.jsonl", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--pipeline",
    "pipeline_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Merge with this pipeline's [merge] settings (embedder, model judge) and its database.",
)
@db_option
@json_option
@handle_errors
def import_(observations_file: Path, pipeline_file: Path | None, db: Path | None, as_json: bool) -> None:
    """Import observations (one JSON object a line) and merge them into claims.

    Required fields: text, stance, kind, topic, field_path, model, quote.
    Optional: domain, tags, citations, camp, lang, source, extracted_at,
    run_label. A bad line is rejected with its reason (exit code 1); importing
    the same file twice adds nothing. Lines with "current": false (what
    `extract export observations` writes for observations a newer run
    superseded) are left out.

    \b
    Examples:
      extract import corpus.jsonl
      extract export observations --format jsonl --db a.duckdb > obs.jsonl
      extract import obs.jsonl --db b.duckdb
      extract import corpus.jsonl --pipeline pipelines/papers.toml
    """
    pipeline = load_pipeline(pipeline_file) if pipeline_file else None
    with _progress_bar() as progress:
        s = import_observations(observations_file, database_path(pipeline, db), pipeline, progress)
    joined = f"; {s.borderline_merged} of {s.borderline_asked} borderline pair(s) joined" if s.borderline_asked else ""
    if as_json:
        print_json(s.as_dict())
    else:
        why = f" (first: {s.first_reject}; all: extract export rejects)" if s.rejects else ""
        why += f", {s.superseded} left out (superseded in the exporting database)" if s.superseded else ""
        click.echo(
            f"import {s.run_id}: {s.lines} line(s), {s.observations} new observation(s),"
            f" {s.duplicates} already present, {s.claims} claim(s) touched, {s.rejects} rejected{why}" + joined
        )
    warn_unanswered(s.borderline_unanswered, s.borderline_problem)
    sys.exit(s.exit_code)


@contextmanager
def _progress_bar() -> Iterator[ImportProgress | None]:
    """A bar on stderr over the file's bytes, moved after each batch of lines
    (`stages.importing.BATCH_LINES`) is stored (a million lines take minutes); none
    when stderr is not a terminal."""
    console = Console(stderr=True)
    if not console.is_terminal:
        yield None
        return
    with Progress(
        TextColumn("import"),
        BarColumn(),
        DownloadColumn(),
        TextColumn("{task.fields[info]}"),
        TimeElapsedColumn(),
        console=console,
    ) as bar:
        task = bar.add_task("import", total=None, info="")

        def told(done: int, total: int, s: ImportSummary) -> None:
            info = f"{s.lines} line(s), {s.observations} new, {s.rejects} rejected"
            bar.update(task, completed=done, total=total, info=info)

        yield told
