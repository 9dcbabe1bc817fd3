"""`extract batch status` and `extract batch collect`: Batch API jobs a run left running."""

from __future__ import annotations

from pathlib import Path

import click

from extract.cli.common import db_option, handle_errors, json_option, print_json
from extract.cli.run import BarProgress
from extract.config import load_pipeline
from extract.pipeline import batch_overview, collect_pipeline_batches, database_path

PIPELINE_ARG = click.argument("pipeline_file", metavar="PIPELINE.toml", type=click.Path(path_type=Path, dir_okay=False))


@click.group()
def batch() -> None:
    """Batch API jobs started by `extract run --batch`.

    \b
    Examples:
      extract batch status pipelines/papers.toml
      extract batch collect pipelines/papers.toml
    """


@batch.command()
@PIPELINE_ARG
@db_option
@json_option
@handle_errors
def status(pipeline_file: Path, db: Path | None, as_json: bool) -> None:
    """Every batch with its status and counts (open ones asked afresh).

    \b
    Example:
      extract batch status pipelines/papers.toml
    """
    pipeline = load_pipeline(pipeline_file)
    rows = batch_overview(pipeline, database_path(pipeline, db))
    if as_json:
        print_json(rows)
        return
    for b in rows:
        click.echo(
            f"{b['batch_id']}  {b['status']:<11} requests {b['n_requests']} completed {b['n_completed']}"
            f" failed {b['n_failed']}  run {b['run_id']}" + (f"  error: {b['error']}" if b["error"] else "")
        )
    if not rows:
        click.echo("no batches")


@batch.command()
@PIPELINE_ARG
@db_option
@json_option
@handle_errors
def collect(pipeline_file: Path, db: Path | None, as_json: bool) -> None:
    """Fetch the answers of finished batches into the response cache.

    Then `extract run` with the same inputs validates and merges them without
    calling the model again.

    \b
    Example:
      extract batch collect pipelines/papers.toml && extract run pipelines/papers.toml dumps/
    """
    pipeline = load_pipeline(pipeline_file)
    result = collect_pipeline_batches(pipeline, database_path(pipeline, db), BarProgress(quiet=as_json))
    if as_json:
        print_json(result.__dict__)
        return
    click.echo(
        f"collected {result.answers} answer(s); {result.failed_lines} failed request(s) will be sent again;"
        f" {result.still_running} batch(es) still running"
    )
