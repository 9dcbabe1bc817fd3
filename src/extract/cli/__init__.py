"""The `extract` command line: each command parses arguments, calls one library
function, and turns domain errors into a one-line message and an exit code
(0 done, 1 finished with rejects or failures, 2 bad usage or input).
"""

from __future__ import annotations

import click

from extract import __version__
from extract.cli.batch import batch
from extract.cli.diff import diff
from extract.cli.export import export
from extract.cli.importing import import_
from extract.cli.query import claims, runs, show, topics
from extract.cli.report import report
from extract.cli.run import plan, run


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="extract")
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Extract grounded claims from paper dumps into a DuckDB database.

    \b
    Quick start (offline, no key needed):
      extract run pipelines/demo.toml
      extract claims --stance contested
      extract show c-0123456789
      extract report --out claims.html
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


for command in (run, plan, runs, claims, show, topics, diff, report, export, import_, batch):
    cli.add_command(command)


def main() -> None:
    cli(prog_name="extract")
