"""What the commands share: the --db and --json options, error handling, JSON output."""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import click

from extract.errors import ExtractError

F = TypeVar("F", bound=Callable[..., Any])


def db_option(f: F) -> F:
    return click.option(
        "--db",
        "db",
        type=click.Path(path_type=Path, dir_okay=False),
        help="Database file (default: the pipeline's, else claims.duckdb).",
    )(f)


def json_option(f: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")(f)


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def json_text(data: Any, *, sort_keys: bool = False) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2, sort_keys=sort_keys, default=_default)


def print_json(data: Any, *, sort_keys: bool = False) -> None:
    click.echo(json_text(data, sort_keys=sort_keys))


def warn_unanswered(unanswered: int, problem: str) -> None:
    """One line on stderr when the merge's arbiters could not answer some borderline pairs."""
    if unanswered:
        click.echo(f"warning: {unanswered} borderline pair(s) left apart unanswered: {problem}", err=True)


def fail(message: str, code: int = 2) -> None:
    """One line on stderr, then exit."""
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def _debug() -> bool:
    ctx = click.get_current_context(silent=True)
    root = ctx.find_root() if ctx is not None else None
    return bool(root is not None and root.obj and root.obj.get("debug"))


def handle_errors(f: F) -> F:
    """Domain errors become one line and exit code 2, unless --debug asks for the traceback."""

    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return f(*args, **kwargs)
        except BrokenPipeError:
            # The reader went away (`| head`): stop quietly, as Unix tools do.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            sys.exit(0)
        except ExtractError as exc:
            if _debug():
                raise
            fail(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        except Exception as exc:
            if _debug():
                raise
            first = str(exc).splitlines()[0] if str(exc) else ""
            fail(f"internal error: {type(exc).__name__}: {first} (run with --debug for the traceback)")

    return wrapper  # type: ignore[return-value]


def reject_reasons(reasons: dict[str, int] | None) -> str:
    """` (unsupported_number 2, quote_not_found 1)`: rejects by reason, most first; "" for none."""
    if not reasons:
        return ""
    ordered = sorted(reasons.items(), key=lambda item: (-item[1], item[0]))
    return " (" + ", ".join(f"{reason} {n}" for reason, n in ordered) + ")"
