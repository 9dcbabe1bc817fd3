"""`extract diff`: what changed between two runs, as text, Markdown or JSON."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from extract.cli.common import db_option, handle_errors, print_json
from extract.cli.diff_format import render_markdown, render_text
from extract.pipeline import KINDS, database_path, diff_runs, failing_kinds

FAIL_ON_CHOICES = (*KINDS, "any")


def _fail_on(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> tuple[str, ...]:
    kinds = tuple(k.strip() for v in values for k in v.split(",") if k.strip())
    unknown = [k for k in kinds if k not in FAIL_ON_CHOICES]
    if unknown:
        raise click.BadParameter(f"unknown kind {unknown[0]!r} (choose from {', '.join(FAIL_ON_CHOICES)})")
    return kinds


@click.command()
@click.argument("run_a")
@click.argument("run_b")
@click.option("--topic", help="Compare only this topic's claims (default: the topic of a `run --topic` run).")
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json", "md"]), default="text", show_default=True, help="Output."
)
@click.option("--json", "as_json", is_flag=True, help="Same as --format json.")
@click.option(
    "--fail-on",
    "fail_on",
    multiple=True,
    callback=_fail_on,
    metavar="KIND[,KIND]",
    help=f"Exit 1 when a change of these kinds exists (repeatable): {', '.join(FAIL_ON_CHOICES)}.",
)
@db_option
@handle_errors
def diff(
    run_a: str, run_b: str, topic: str | None, fmt: str, as_json: bool, fail_on: tuple[str, ...], db: Path | None
) -> None:
    """What changed from run RUN_A to run RUN_B, claim by claim.

    Claims only in RUN_A are dropped (-), only in RUN_B new (+); claims in both may
    have changed (~) in stance (stance-flip), domain, tags, citations or evidence.
    A run is named by its id, a unique prefix of it, `latest` or `previous`.

    Exit codes: 0 done (changes or not), 1 a change of a --fail-on kind exists
    (the diff is printed anyway), 2 unknown run or bad usage.

    \b
    Examples:
      extract diff previous latest
      extract diff run-20261122T101500-ab12 run-20261123T090000-cd34 --topic attention-kernels
      extract diff previous latest --format md > diff.md
      extract diff previous latest --json | jq '.summary.by_kind'
      extract diff previous latest --fail-on stance-flip,dropped   # in CI: guard extraction quality
    """
    result = diff_runs(database_path(None, db), run_a, run_b, topic)
    if as_json or fmt == "json":
        print_json(result, sort_keys=True)
    elif fmt == "md":
        click.echo(render_markdown(result), nl=False)
    else:
        click.echo(render_text(result))
    failing = failing_kinds(result, fail_on)
    if failing:
        click.echo(
            "fail-on: " + ", ".join(f"{kind} {n}" for kind, n in failing.items()),
            err=True,
        )
        sys.exit(1)
