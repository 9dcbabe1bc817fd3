"""`extract run`: run the pipeline stages with a progress bar and a summary."""

from __future__ import annotations

import functools
import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import click

from extract.cli.common import (
    F,
    db_option,
    fail,
    handle_errors,
    json_option,
    print_json,
    reject_reasons,
    warn_unanswered,
)
from extract.config import load_pipeline
from extract.errors import Terminated
from extract.pipeline import PlanSummary, RunOptions, plan_pipeline

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress, TaskID

    from extract.pipeline import RunSummary


def pipeline_options(f: F) -> F:
    """PIPELINE.toml [INPUT]..., --input, --model, --limit and --fresh, shared by `run` and `plan`.

    Inputs are positional so that the shell's own glob (`dumps/*.md`) works; `--input`
    says the same and may repeat. The callback gets them together as `inputs`."""

    @functools.wraps(f)
    def wrapper(*args: Any, positional: tuple[Path, ...], named: tuple[Path, ...], **kwargs: Any) -> Any:
        return f(*args, inputs=(*positional, *named), **kwargs)

    decorated: Any = wrapper
    for decorator in reversed(
        (
            click.argument("pipeline_file", metavar="PIPELINE.toml", type=click.Path(path_type=Path, dir_okay=False)),
            click.argument("positional", metavar="[INPUT]...", nargs=-1, type=click.Path(path_type=Path)),
            click.option(
                "--input",
                "named",
                multiple=True,
                type=click.Path(path_type=Path),
                help="Input file, directory or glob, like a positional INPUT (repeatable). Inputs given"
                " replace the pipeline's.",
            ),
            click.option("--model", help="Model name, e.g. gpt-4o-mini, or 'heuristic' for the offline baseline."),
            click.option("--limit", type=click.IntRange(min=1), help="At most N chunks (for a quick try)."),
            click.option(
                "--fresh",
                is_flag=True,
                help="Ask the model again even where the response cache has an answer (the new answer is kept"
                " beside the old one and replayed from then on).",
            ),
        )
    ):
        decorated = decorator(decorated)
    return cast(F, decorated)


class BarProgress:
    """Progress on stderr: a bar over the run's steps (each chunk, then each topic report) with
    calls, cache hits, re-asks, rejects and tokens."""

    def __init__(self, quiet: bool) -> None:
        self._console: Console | None = None
        self.quiet = quiet
        self.bar: Progress | None = None
        self.task: TaskID | None = None

    @property
    def console(self) -> Console:
        # Made (and rich loaded) when first needed: a quiet plan never needs it.
        if self._console is None:
            from rich.console import Console

            self._console = Console(stderr=True)
        return self._console

    def notice(self, message: str) -> None:
        if not self.quiet or message.startswith("warning"):
            self.console.print(message, markup=False, highlight=False, soft_wrap=True)

    def start(self, total: int) -> None:
        if self.quiet:
            return
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.bar = Progress(
            TextColumn("extract"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[info]}"),
            TextColumn("{task.fields[wait]}"),
            TimeElapsedColumn(),
            console=self.console,
            transient=False,
        )
        self.task = self.bar.add_task("chunks", total=total, info="", wait="")
        self.bar.start()

    def advance(self, stats: dict[str, float | None]) -> None:
        if self.bar is None or self.task is None:
            return
        tokens = int((stats["prompt_tokens"] or 0) + (stats["completion_tokens"] or 0))
        cost = stats.get("cost_usd")
        info = (
            f"calls {stats['calls']} cached {stats['cached']} retried {stats['retries']} re-asked {stats['reasks']}"
            f" rejects {stats['rejects']} tokens {tokens} spend {'?' if cost is None else f'${cost:.4f}'}"
        )
        self.bar.update(self.task, advance=1, info=info)

    def waiting(self, calls: int, seconds: float) -> None:
        if self.bar is None or self.task is None:
            return
        wait = f"waiting on {calls} call(s), {seconds:.0f} s" if calls and seconds >= 2 else ""
        self.bar.update(self.task, wait=wait)

    def stop(self) -> None:
        if self.bar is not None:
            self.bar.stop()


def _money(value: float | None) -> str:
    return "unknown (no price for this model in [prices])" if value is None else f"${value:.4f}"


def _print_summary(s: RunSummary) -> None:
    lines = [
        f"run {s.run_id}: {s.status} (model {s.model}, database {s.db})",
        f"  structured output: {s.structured_output or '-'}",
        f"  documents {s.documents}  records {s.records}  chunks {s.chunks}",
        f"  calls {s.calls}  cached {s.cached}  retried {s.retries}  re-asked {s.reasks}  split {s.splits}"
        f"  failed {s.failed}",
        f"  observations {s.observations} (new)  claims {s.claims} (touched)  rejects {s.rejects}"
        + reject_reasons(s.reject_reasons),
        f"  tokens {s.prompt_tokens + s.completion_tokens} (prompt {s.prompt_tokens},"
        f" completion {s.completion_tokens})  cost {_money(s.cost_usd)}",
    ]
    if s.report_statements:
        lines.append(
            f"  report statements {s.report_statements}, {s.uncited} of them uncited"
            " (flagged, hidden in the claims view)"
        )
    if s.budget_cuts:
        lines.append(f"  completion budget halved {s.budget_cuts} time(s) to fit the endpoint's context window")
    if s.borderline_asked:
        lines.append(f"  borderline pairs asked {s.borderline_asked}, joined {s.borderline_merged}")
    if s.skipped:
        lines.append(
            f"  skipped {len(s.skipped)} file(s): " + ", ".join(f"{x['path']} ({x['kind']})" for x in s.skipped)
        )
    if s.deferred:
        lines.append(
            f"  batch: {s.deferred} request(s) waiting in {s.batches_submitted} new batch(es);"
            " run the same command again later to collect them"
        )
    if s.rejects:
        lines.append("  see them with: extract export rejects --format jsonl")
    click.echo("\n".join(lines))


@click.command()
@pipeline_options
@click.option("--quiet", "-q", is_flag=True, help="No progress bar or notices (warnings still show).")
@click.option("--batch", is_flag=True, help="Send uncached requests through the Batch API instead of waiting.")
@click.option(
    "--topic",
    metavar="SLUG",
    help="Re-extract one topic's records and write a new report for it alone (the summary counts that"
    " topic's documents, records and chunks).",
)
@db_option
@json_option
@handle_errors
def run(
    pipeline_file: Path,
    inputs: tuple[Path, ...],
    model: str | None,
    limit: int | None,
    fresh: bool,
    quiet: bool,
    batch: bool,
    topic: str | None,
    db: Path | None,
    as_json: bool,
) -> None:
    """Run the pipeline: ingest, chunk, extract, validate and merge.

    INPUT is any number of files, directories and globs (the shell's, or quoted
    for extract to expand); given, they replace the pipeline's inputs. Re-running
    unchanged inputs makes no model calls. The model comes from --model, else
    EXTRACT_MODEL, else the pipeline file. Exit code 1 means the run finished
    with rejects, failures or skipped files (counted above).

    \b
    Examples:
      extract run pipelines/demo.toml
      extract run pipelines/papers.toml dumps/*.md notes.txt --model heuristic
      extract run pipelines/papers.toml 'dumps/**/*.md' --model heuristic
      OPENAI_BASE_URL=http://localhost:8000/v1 extract run pipelines/papers.toml \\
          reading_list.txt --model Qwen/Qwen2.5-7B-Instruct
      extract run pipelines/papers.toml dumps/ --batch   # then later:
      extract run pipelines/papers.toml dumps/           # collects, validates, merges
      extract run pipelines/papers.toml dumps/ --topic moe-routing --fresh   # re-ask one topic
      extract run pipelines/papers.toml --input a.md --input b.md   # --input says the same
    """
    import os

    from extract.pipeline import RunInterrupted, run_pipeline

    pipeline = load_pipeline(pipeline_file)
    chosen = model or os.environ.get("EXTRACT_MODEL") or None
    progress = BarProgress(quiet=quiet or as_json)
    # A signal handler can only be set on the main thread (a library caller may not be on it).
    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminated) if main else None
    try:
        options = RunOptions(
            inputs=list(inputs), model=chosen, limit=limit, db=db, batch=batch, topic=topic, fresh=fresh
        )
        summary = run_pipeline(pipeline, options, progress)
    except RunInterrupted as stop:
        progress.stop()
        _report(stop.summary, as_json)
        fail("interrupted; what was answered is stored: run the same command again to resume", stop.exit_code)
        return
    except KeyboardInterrupt as exc:  # before the run row existed: nothing to resume
        progress.stop()
        fail("interrupted before the run started", 128 + getattr(exc, "signum", signal.SIGINT))
        return
    finally:
        progress.stop()
        if main:
            signal.signal(signal.SIGTERM, previous)
    _report(summary, as_json)
    warn_unanswered(summary.borderline_unanswered, summary.borderline_problem)
    sys.exit(summary.exit_code)


def _terminated(signum: int, frame: object) -> None:
    """SIGTERM (what a job scheduler sends) stops a run the way Ctrl-C does."""
    raise Terminated(signum)


def _report(summary: RunSummary, as_json: bool) -> None:
    if as_json:
        print_json(summary.as_dict())
    else:
        _print_summary(summary)


def _print_plan(s: PlanSummary) -> None:
    lines = [
        f"plan for model {s.model} (database {s.db}): nothing is called",
        f"  documents {s.documents}  records {s.records}  chunks {s.chunks}",
        f"  structured output: {s.structured_output}",
        f"  calls {s.calls}  (cached {s.cached}: answered before, free)  + {s.report_calls} topic report(s)",
        f"  prompt tokens {s.prompt_tokens}  completion tokens ~{s.completion_tokens_estimate} (estimate)",
        f"  estimated cost {_money(s.cost_usd_estimate)}",
    ]
    if s.skipped:
        lines.append(f"  would skip {len(s.skipped)} file(s): " + ", ".join(x["path"] for x in s.skipped))
    click.echo("\n".join(lines))


@click.command()
@pipeline_options
@click.option(
    "--topic", metavar="SLUG", help="What `run --topic SLUG` would do: that topic's records and its report only."
)
@db_option
@json_option
@handle_errors
def plan(
    pipeline_file: Path,
    inputs: tuple[Path, ...],
    model: str | None,
    limit: int | None,
    fresh: bool,
    topic: str | None,
    db: Path | None,
    as_json: bool,
) -> None:
    """Dry run: documents, records, chunks, tokens, calls and estimated cost.

    INPUT is any number of files, directories and globs, as for `extract run`.
    Calls nothing and writes nothing. Requests already answered (in the
    database's response cache) are counted as cached and cost nothing.
    Prices come from the pipeline's [prices."MODEL"] table.

    \b
    Examples:
      extract plan pipelines/papers.toml dumps/ --model gpt-4o-mini
      extract plan pipelines/papers.toml dumps/*.md --json
      extract plan pipelines/papers.toml dumps/ --topic moe-routing --fresh
    """
    import os

    pipeline = load_pipeline(pipeline_file)
    chosen = model or os.environ.get("EXTRACT_MODEL") or None
    summary = plan_pipeline(
        pipeline,
        RunOptions(inputs=list(inputs), model=chosen, limit=limit, db=db, fresh=fresh, topic=topic),
        BarProgress(quiet=as_json),
    )
    if as_json:
        print_json(summary.as_dict())
    else:
        _print_plan(summary)
