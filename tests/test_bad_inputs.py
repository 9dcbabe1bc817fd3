"""Bad files are skipped with one line naming them; the rest of the run goes on."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from pipelines import run_cli, write_pipeline


def test_bad_files_are_skipped_recorded_and_exit_1(isolated: Path) -> None:
    dumps = isolated / "dumps"
    dumps.mkdir()
    (dumps / "good.md").write_text("## Paper\nThe method improves accuracy by 12% on three benchmarks.\n")
    (dumps / "binary.txt").write_bytes(bytes(range(256)) * 40)
    (dumps / "empty.md").write_bytes(b"")
    (dumps / "undecodable.txt").write_bytes(b"\x81\x30\xff\xfe\xfd abc \x80\x80\xc3\x28" * 50)
    pipeline = write_pipeline(isolated, inputs=[dumps], model="heuristic")
    result = run_cli("run", str(pipeline))
    assert result.exit_code == 1
    warnings = [line for line in result.output.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 3
    for name, kind in (("binary.txt", "binary"), ("empty.md", "empty"), ("undecodable.txt", "undecodable")):
        assert any(name in w and kind in w for w in warnings), warnings
    assert "Traceback" not in result.output
    with duckdb.connect(str(isolated / "claims.duckdb"), read_only=True) as con:
        status, skipped = con.execute("SELECT status, skipped FROM runs").fetchone()  # type: ignore[misc]
        n_obs = con.execute("SELECT count(*) FROM observations").fetchone()[0]  # type: ignore[index]
    assert status == "done_with_skips"
    assert sorted(s["kind"] for s in json.loads(skipped)) == ["binary", "empty", "undecodable"]
    assert n_obs == 1  # the good file was still extracted


@pytest.mark.slow
def test_a_5mb_single_line_is_chunked_and_extracted(isolated: Path) -> None:
    dumps = isolated / "dumps"
    dumps.mkdir()
    sentence = "The new optimizer improves training stability by 20% on large models. "
    (dumps / "huge.txt").write_text(sentence * (5_000_000 // len(sentence)), encoding="utf-8")
    pipeline = write_pipeline(isolated, inputs=[dumps], model="heuristic")
    result = run_cli("run", str(pipeline), "--json")
    summary = json.loads(result.stdout)
    assert result.exit_code == 0, result.output
    assert summary["records"] == 1 and summary["chunks"] > 500
    with duckdb.connect(str(isolated / "claims.duckdb"), read_only=True) as con:
        max_tokens, covered = con.execute("SELECT max(n_tokens), max(char_end) FROM chunks").fetchone()  # type: ignore[misc]
    assert max_tokens <= 1500
    assert covered >= 5_000_000 - len(sentence) - 1


def test_missing_input_and_bad_config_are_one_line_exit_2(isolated: Path) -> None:
    pipeline = write_pipeline(isolated, inputs=[isolated / "nope"], model="heuristic")
    result = run_cli("run", str(pipeline))
    assert result.exit_code == 2 and result.output.strip() == f"error: input not found: {isolated / 'nope'}"
    bad = isolated / "bad.toml"
    bad.write_text("[model]\nconcurrency = 0\n")
    result = run_cli("run", str(bad))
    assert result.exit_code == 2
    assert result.output.strip().startswith("error:") and "model.concurrency" in result.output
    assert len(result.output.strip().splitlines()) == 1
    result = run_cli("run", str(isolated / "missing.toml"))
    assert result.exit_code == 2 and "pipeline file not found" in result.output
    (isolated / "key.toml").write_text('[model]\napi_key = "sk-x"\n')
    result = run_cli("run", str(isolated / "key.toml"))
    assert result.exit_code == 2 and "environment" in result.output


def test_a_db_path_naming_a_data_file_is_refused_and_the_file_left_alone(isolated: Path) -> None:
    """DuckDB would open a CSV (or JSON, Parquet) file as an in-memory database, so a run
    would report success and store nothing."""
    pipeline = write_pipeline(isolated, inputs=[isolated / "dumps"], model="heuristic")
    (isolated / "dumps").mkdir()
    (isolated / "dumps" / "a.md").write_text("## A paper\nIt shows a 2x speedup.\n", encoding="utf-8")
    data = isolated / "claims.csv"
    data.write_text("claim_id,text\nc-1,x\n", encoding="utf-8")
    for args in (("run", str(pipeline)), ("claims",)):
        result = run_cli(*args, "--db", str(data))
        assert result.exit_code == 2
        assert (
            result.output
            == f"error: not a DuckDB database: {data} (pass --db a .duckdb file, new or made by extract)\n"
        )
    assert data.read_text(encoding="utf-8") == "claim_id,text\nc-1,x\n"
    # A new path with any name is a new database.
    assert run_cli("run", str(pipeline), "--db", str(isolated / "new.csv")).exit_code == 0
    assert run_cli("claims", "--db", str(isolated / "new.csv")).exit_code == 0


def test_real_model_without_key_or_endpoint_is_a_clear_error(isolated: Path) -> None:
    pipeline = write_pipeline(isolated, model="gpt-4o-mini")
    result = run_cli("run", str(pipeline))
    assert result.exit_code == 2
    assert "OPENAI_API_KEY" in result.output and "--model heuristic" in result.output


def test_an_html_page_of_scripts_only_is_skipped_as_markup_not_as_an_empty_file(isolated: Path) -> None:
    dumps = isolated / "dumps"
    dumps.mkdir()
    (dumps / "page.html").write_text("<html><script>" + "var x = 1;" * 200 + "</script></html>", encoding="utf-8")
    (dumps / "notes.md").write_text("## Note\nSparse routing cuts latency by 35%.\n", encoding="utf-8")
    result = run_cli("run", str(write_pipeline(isolated, inputs=[dumps], model="heuristic")), "--quiet")
    warned = [
        line for line in result.output.splitlines() if line.startswith("warning: skipped") and "page.html" in line
    ]
    assert len(warned) == 1 and "scripts and markup only" in warned[0] and "bytes of html" in warned[0]
