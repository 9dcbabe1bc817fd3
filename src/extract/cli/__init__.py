"""The `extract` command line: each command parses arguments, calls one library
function, and turns domain errors into a one-line message and an exit code
(0 done, 1 finished with rejects or failures, 2 bad usage or input).
"""

from __future__ import annotations

import importlib
from typing import IO, Any

import click

from extract import __version__

# Each command's module is imported when the command is called (or --help lists them
# all): `extract plan` loads neither the OpenAI SDK nor DuckDB it does not use.
_COMMANDS = {
    "init": ("extract.cli.starter", "init"),
    "run": ("extract.cli.run", "run"),
    "plan": ("extract.cli.run", "plan"),
    "runs": ("extract.cli.query", "runs"),
    "claims": ("extract.cli.query", "claims"),
    "show": ("extract.cli.query", "show"),
    "topics": ("extract.cli.query", "topics"),
    "diff": ("extract.cli.diff", "diff"),
    "report": ("extract.cli.report", "report"),
    "export": ("extract.cli.export", "export"),
    "import": ("extract.cli.importing", "import_"),
    "batch": ("extract.cli.batch", "batch"),
}


class UsageLine(click.UsageError):
    """A usage error said in one line with the command's --help to turn to
    (click's own takes four: usage, hint, blank line, error)."""

    def __init__(self, error: click.UsageError, ctx: click.Context | None) -> None:
        first = " ".join(error.format_message().split())
        if len(first) > 1 and first[0].isupper() and first[1].islower():
            first = first[0].lower() + first[1:]
        super().__init__(first.removesuffix("."), error.ctx or ctx)

    def show(self, file: IO[Any] | None = None) -> None:
        hint = f" (see: {self.ctx.command_path} --help)" if self.ctx is not None else ""
        click.echo(f"error: {self.message}{hint}", file=file, err=file is None)


def _one_line(error: click.UsageError, ctx: click.Context | None) -> click.UsageError:
    # No arguments at all shows the help, as click does; a usage error said once stays as it is.
    if isinstance(error, (UsageLine, click.exceptions.NoArgsIsHelpError)):
        return error
    return UsageLine(error, ctx)


class Extract(click.Group):
    """The root command. Usage errors surface from parsing (here or in a subcommand) and
    from the commands; whatever raised them, they are said in one line, exit code 2.
    Subcommands load on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *_COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in _COMMANDS:
            module, name = _COMMANDS[cmd_name]
            self.add_command(getattr(importlib.import_module(module), name), cmd_name)
        return super().get_command(ctx, cmd_name)

    def make_context(
        self, info_name: str | None, args: list[str], parent: click.Context | None = None, **extra: Any
    ) -> click.Context:
        try:
            return super().make_context(info_name, args, parent, **extra)
        except click.UsageError as error:
            raise _one_line(error, parent) from error

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.UsageError as error:
            raise _one_line(error, ctx) from error


@click.group(name="extract", cls=Extract, context_settings={"help_option_names": ["-h", "--help"]})
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

    \b
    Your own dumps:
      extract init dumps/        # writes extract.toml, commented: edit it
      extract run extract.toml
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


def main() -> None:
    cli(prog_name="extract")
