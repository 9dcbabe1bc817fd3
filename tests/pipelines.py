"""Helpers that write pipeline files for tests and run the CLI in-process."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from extract.cli import cli

PROJECT_ROOT = Path(__file__).resolve().parent.parent
FIXTURE_DUMPS = PROJECT_ROOT / "fixtures" / "dumps"
PROMPTS = PROJECT_ROOT / "prompts"

_DATA = re.compile(r"^(<<<DATA-[0-9a-f]+>>>) BEGIN DATA\n(.*)\n\1 END DATA$", re.DOTALL | re.MULTILINE)


def write_pipeline(
    directory: Path,
    *,
    inputs: list[Path] | None = None,
    model: str = "gpt-test",
    base_url: str | None = None,
    prompts: Path = PROMPTS,
    extra: str = "",
    model_extra: str = "",
) -> Path:
    """A pipeline TOML with absolute paths; returns its path."""
    lines = [
        "[pipeline]",
        'name = "test"',
        f"inputs = {json.dumps([str(p) for p in (inputs or [FIXTURE_DUMPS])])}",
        f"prompts = {json.dumps(str(prompts))}",
        "",
        "[model]",
        f'name = "{model}"',
    ]
    # Defaults the tests rely on, unless `model_extra` sets them itself.
    lines += [line for line in ("max_retries = 0", "concurrency = 4") if line.split(" =")[0] not in model_extra]
    if base_url:
        lines.append(f'base_url = "{base_url}"')
    if model_extra:
        lines.append(model_extra)
    lines += ["", "[ingest]", 'jsonl_text_field = "body"', "", extra]
    path = directory / "pipeline.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def run_cli(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def chunk_data(request: dict[str, Any]) -> str:
    """The dump text a request carries between its boundary lines."""
    users = "\n".join(m["content"] for m in request["messages"] if m["role"] == "user")
    found = _DATA.search(users)
    assert found, "request carries no delimited data"
    return found.group(2)


def first_sentence(text: str) -> str:
    """A verbatim span of the data long enough to be a quote."""
    for raw in text.splitlines():
        line = raw.strip()
        if len(line) >= 20 and not line.startswith("http"):
            return line[:120]
    return text[:120]


def paper_list(directory: Path, n: int) -> Path:
    """A directory with one markdown list of `n` one-sentence papers (one chunk each)."""
    dumps = directory / "dumps"
    dumps.mkdir()
    items = [
        f"## Paper {i}\nPaper {i} shows that method {i} improves accuracy by {i}% on benchmark {i}.\n" for i in range(n)
    ]
    (dumps / "list.md").write_text("# List\n\n" + "\n".join(items), encoding="utf-8")
    return dumps


def grounded_answer(request: dict[str, Any], citations: list[str] | None = None) -> str:
    """An answer with one claim quoting the request's data verbatim. Its text is a sentence
    about the quote, never the quote alone: a quoted title line alone is a heading, no claim."""
    quote = first_sentence(chunk_data(request))
    claim = {
        "text": f"The dump reports that {quote[:60]}",
        "stance": "consensus",
        "domain": "training",
        "tags": ["T"],
        "topic": None,
        "citations": citations or [],
        "quote": quote,
    }
    return json.dumps({"claims": [claim]})
