"""Inputs the shell's way (`extract run P.toml dumps/*.md`), and usage errors in one line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from pipelines import run_cli, write_pipeline


@pytest.fixture
def dumps(isolated: Path) -> Path:
    """Two markdown dumps and a text dump in dumps/, and one more markdown dump beside it."""
    folder = isolated / "dumps"
    folder.mkdir()
    for name, finding in (("a.md", "a 2x speedup"), ("b.md", "12% less memory"), ("c.txt", "3 points more")):
        (folder / name).write_text(f"## Paper {name}\nThe method gives {finding} on the benchmark.\n", encoding="utf-8")
    (isolated / "extra.md").write_text("## Extra paper\nIt cuts latency by 40% in serving.\n", encoding="utf-8")
    return folder


def _documents(isolated: Path) -> list[str]:
    with duckdb.connect(str(isolated / "claims.duckdb"), read_only=True) as con:
        return sorted(Path(row[0]).name for row in con.execute("SELECT path FROM documents").fetchall())


def _pipeline(isolated: Path) -> str:
    """A pipeline whose own inputs do not exist: a run reads only what the command names."""
    return str(write_pipeline(isolated, inputs=[isolated / "not-here"], model="heuristic"))


def test_positional_inputs_take_files_and_directories(isolated: Path, dumps: Path) -> None:
    result = run_cli("run", _pipeline(isolated), str(isolated / "extra.md"), str(dumps), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["documents"] == 4
    assert _documents(isolated) == ["a.md", "b.md", "c.txt", "extra.md"]


def test_a_quoted_glob_is_expanded_and_a_file_named_twice_read_once(isolated: Path, dumps: Path) -> None:
    result = run_cli("run", _pipeline(isolated), "dumps/*.md", "dumps/a.md", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["documents"] == 2
    assert _documents(isolated) == ["a.md", "b.md"]


def test_input_option_repeats_and_adds_to_positional_inputs(isolated: Path, dumps: Path) -> None:
    args = ("extra.md", "--input", "dumps/a.md", "--input", "dumps/c.txt", "--json")
    planned = run_cli("plan", _pipeline(isolated), *args)
    assert planned.exit_code == 0, planned.output
    assert json.loads(planned.stdout)["documents"] == 3
    result = run_cli("run", _pipeline(isolated), *args)
    assert result.exit_code == 0, result.output
    assert _documents(isolated) == ["a.md", "c.txt", "extra.md"]


def test_missing_inputs_and_empty_globs_are_named_in_one_line(isolated: Path, dumps: Path) -> None:
    nothing = run_cli("run", _pipeline(isolated), "dumps/*.pdf")
    assert nothing.exit_code == 2 and nothing.stdout == ""
    assert nothing.stderr == "error: no input matches dumps/*.pdf\n"
    several = run_cli("plan", _pipeline(isolated), "dumps/a.md", "nope.md", "gone/", "z*.txt")
    assert several.exit_code == 2
    assert several.stderr == "error: input not found: nope.md, gone; no input matches z*.txt\n"
    assert not (isolated / "claims.duckdb").exists()


@pytest.mark.parametrize(
    ("args", "message", "command"),
    [
        (["run", "p.toml", "--inptu", "d/"], "no such option '--inptu'. Did you mean '--input'?", "extract run"),
        (["run"], "missing argument 'PIPELINE.toml'", "extract run"),
        (["plan", "p.toml", "--limit", "0"], "invalid value for '--limit': 0 is not in the range x>=1", "extract plan"),
        (["diff", "a", "b", "--format", "yaml"], "invalid value for '--format': 'yaml' is not one of", "extract diff"),
        (["show", "c-1234", "c-5678"], "got unexpected extra argument (c-5678)", "extract show"),
        (["init", "a", "b"], "got unexpected extra argument (b)", "extract init"),
        (["batch", "status"], "missing argument 'PIPELINE.toml'", "extract batch status"),
        (["rnu"], "no such command 'rnu'. Did you mean 'run'?", "extract"),
        (["--debug"], "missing command", "extract"),
    ],
)
def test_usage_errors_are_one_line_with_the_commands_help(args: list[str], message: str, command: str) -> None:
    result = run_cli(*args)
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.startswith(f"error: {message}"), result.stderr
    assert result.stderr.endswith(f" (see: {command} --help)\n") and result.stderr.count("\n") == 1, result.stderr


def test_an_offline_plan_loads_neither_the_openai_sdk_nor_duckdb(isolated: Path, dumps: Path) -> None:
    # Start-up is part of every command's time: a command loads what it uses (the CLI
    # its command's module, `extract.pipeline` the names asked for), and an offline
    # plan without a database uses neither the SDK nor DuckDB nor rich's progress bar.
    probe = (
        "import sys\n"
        "from extract import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in ('openai', 'duckdb', 'rich', 'extract.pipeline.run') if m in sys.modules),"
        " file=sys.stderr)\n"
    )
    for args in (["--version"], ["plan", _pipeline(isolated), str(dumps), "--model", "heuristic", "--json"]):
        done = subprocess.run(
            [sys.executable, "-c", probe, *args], capture_output=True, text=True, check=True, cwd=isolated
        )
        assert done.stderr.strip().splitlines()[-1] == "[]", (args, done.stderr)
    assert json.loads(done.stdout)["chunks"] > 0


def test_help_version_and_bare_groups_still_answer_as_before() -> None:
    assert run_cli("run", "--help").exit_code == 0
    assert "[INPUT]..." in run_cli("plan", "-h").stdout
    version = run_cli("--version")
    assert version.exit_code == 0 and version.stdout.startswith("extract, version ")
    bare = run_cli("batch")  # a group with no command shows its help, as click does
    assert bare.exit_code == 2 and "Commands:" in bare.output


def test_usage_error_from_the_installed_command_line(isolated: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "extract", "run", "p.toml", "--inptu", "x"],
        capture_output=True,
        text=True,
        cwd=isolated,
        check=False,
    )
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr == ("error: no such option '--inptu'. Did you mean '--input'? (see: extract run --help)\n")
