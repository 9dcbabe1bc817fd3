"""The query commands as a user runs them after the demo pipeline."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import click
import duckdb
import pytest

from extract.hashing import normalise_claim_text, sha256_json

from pipelines import PROJECT_ROOT, run_cli, write_pipeline


@pytest.fixture
def demo_db(isolated: Path) -> Path:
    result = run_cli("run", str(PROJECT_ROOT / "pipelines" / "demo.toml"))
    assert result.exit_code == 0, result.output
    assert "documents 3" in result.output and "rejects 0" in result.output
    return isolated / "claims.duckdb"


def test_demo_run_then_runs_claims_show(demo_db: Path) -> None:
    runs = json.loads(run_cli("runs", "--json").stdout)
    assert len(runs) == 1 and runs[0]["status"] == "done" and runs[0]["model"] == "heuristic"
    assert set(runs[0]["prompts"]) == {"ref_triage", "topic_report"}  # the demo writes topic reports too
    claims = json.loads(run_cli("claims", "--json").stdout)
    assert len(claims) == runs[0]["counts"]["claims"] > 5
    for c in claims:  # the documented id scheme, from the claim's first observation
        first = json.loads(run_cli("show", c["claim_id"], "--json").stdout)["observations"][0]
        triage = first["job"] == "ref_triage"
        key = [
            normalise_claim_text(first["text"]),
            "triage" if triage else first["field_path"],
            None if triage else first["topic"],
            0,
        ]
        assert c["claim_id"] == "c-" + sha256_json(key)[:10]
    contested = json.loads(run_cli("claims", "--stance", "contested", "--json").stdout)
    assert contested and all(c["stance"] == "contested" for c in contested)
    assert len(contested) < len(claims)
    found = json.loads(run_cli("claims", "--search", "flashattention", "--json").stdout)
    assert found and all("flashattention" in c["text"].lower() for c in found)
    topic = json.loads(run_cli("claims", "--topic", "attention-kernels", "--json").stdout)
    assert topic and all("attention-kernels" in c["topics"] for c in topic)

    shown = json.loads(run_cli("show", found[0]["claim_id"], "--json").stdout)
    obs = shown["observations"][0]
    for key in (
        "run_id",
        "job",
        "model",
        "prompt_name",
        "prompt_hash",
        "pipeline_hash",
        "source",
        "doc_sha256",
        "record_id",
        "chunk_id",
        "char_start",
        "char_end",
        "request_hash",
        "quote",
        "alignment",
    ):
        assert obs[key] is not None, key
    text = run_cli("show", found[0]["claim_id"]).output
    assert "quote (exact)" in text and "chars" in text


def test_show_unknown_claim_is_one_line_exit_2(demo_db: Path) -> None:
    result = run_cli("show", "c-0000000000")
    assert result.exit_code == 2 and result.output.strip().startswith("error: no claim c-0000000000")


def test_show_takes_a_unique_prefix_of_a_claim_id(demo_db: Path) -> None:
    ids = sorted(c["claim_id"] for c in json.loads(run_cli("claims", "--json").stdout))
    unique = next(cid[:6] for cid in ids if sum(other.startswith(cid[:6]) for other in ids) == 1)
    shown = json.loads(run_cli("show", unique, "--json").stdout)
    assert shown["claim_id"].startswith(unique) and shown["observations"]
    too_short = run_cli("show", "c-")  # a prefix needs four characters
    assert too_short.exit_code == 2 and len(too_short.output.strip().splitlines()) == 1


def test_query_without_database_is_one_line_exit_2(isolated: Path) -> None:
    result = run_cli("claims")
    assert result.exit_code == 2 and "no database" in result.output


def test_export_observations_and_documents(demo_db: Path, isolated: Path) -> None:
    out = isolated / "obs.jsonl"
    assert run_cli("export", "observations", "--format", "jsonl", "--out", str(out)).exit_code == 0
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    required = {
        "text",
        "stance",
        "kind",
        "topic",
        "field_path",
        "model",
        "quote",
        "domain",
        "tags",
        "citations",
        "camp",
        "lang",
        "source",
        "extracted_at",
        "run_label",
        "claim_id",
        "run_id",
        "doc_sha256",
        "chunk_id",
        "prompt_hash",
        "char_start",
        "char_end",
        "alignment",
    }
    assert rows and all(required <= set(r) for r in rows)
    docs = {d["sha256"]: d["text"] for d in map(json.loads, run_cli("export", "documents").stdout.splitlines())}
    for r in rows:
        if r["kind"] == "ref_triage":  # report statements quote the report, not a document
            assert docs[r["doc_sha256"]][r["char_start"] : r["char_end"]] == r["quote"]
    for fmt in ("csv", "parquet"):
        target = isolated / f"claims.{fmt}"
        result = run_cli("export", "claims", "--format", fmt, "--out", str(target))
        assert result.exit_code == 0 and target.stat().st_size > 0
    for fmt in ("jsonl", "csv"):
        missing = isolated / "no-such-dir" / f"claims.{fmt}"
        result = run_cli("export", "claims", "--format", fmt, "--out", str(missing))
        assert result.exit_code == 2
        assert result.output == f"error: cannot write {missing}: there is no directory {missing.parent}\n"


def test_help_shows_examples() -> None:
    from extract.cli import cli

    commands = cli.list_commands(click.Context(cli))
    assert "plan" in commands and "import" in commands
    for command in commands:
        result = run_cli(command, "--help")
        assert result.exit_code == 0 and "Example" in result.output, command
        # Click keeps an example block's lines only after a real \b; a literal one shows.
        assert "\\b" not in result.output, command


def test_second_process_gets_database_in_use(demo_db: Path) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, time; c = duckdb.connect({str(demo_db)!r}); print('ok', flush=True); time.sleep(30)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ok"
        started = time.monotonic()
        result = run_cli("run", str(PROJECT_ROOT / "pipelines" / "demo.toml"))
        assert result.exit_code == 2
        assert result.output.strip() == f"error: database in use by another process: {demo_db.name}"
        assert time.monotonic() - started < 10
        assert run_cli("claims").exit_code == 2
    finally:
        holder.kill()
        holder.wait()
    assert run_cli("claims").exit_code == 0


def test_claims_by_tag(demo_db: Path) -> None:
    tagged = json.loads(run_cli("claims", "--tag", "flashattention-2", "--json").stdout)
    assert tagged and all("flashattention-2" in [t.lower() for t in c["tags"]] for c in tagged)


@pytest.mark.slow
def test_broken_pipe_is_quiet(isolated: Path) -> None:
    dump = isolated / "big.md"
    dump.write_text("\n".join(f"## P{i}\nPaper {i} improves accuracy by {i}% on task {i}.\n" for i in range(600)))
    pipeline = write_pipeline(isolated, inputs=[dump], model="heuristic")
    assert run_cli("run", str(pipeline)).exit_code == 0
    proc = subprocess.run(  # far more than a pipe buffer, so writing must hit the closed pipe
        f"{sys.executable} -m extract export observations | head -c 10",
        shell=True,
        capture_output=True,
        text=True,
        cwd=isolated,
        check=False,
    )
    assert len(proc.stdout) == 10 and proc.stderr == ""


def test_readme_quick_start_claim_id_exists(demo_db: Path) -> None:
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    claim_id = readme.split("uv run extract show ", 1)[1].split()[0]
    assert run_cli("show", claim_id).exit_code == 0


def test_overlapping_chunks_quoting_one_span_count_as_one_observation(isolated: Path) -> None:
    """Chunks overlap, so a sentence in the overlap is extracted from both: two stored
    observations (each chunk's answer keeps its own), but one piece of evidence, which
    a claim counts once; `show` lists both and marks the second."""
    sentences = [f"Method {i} improves the routing accuracy by {i + 10} percent on the benchmark." for i in range(40)]
    dump = isolated / "long.md"
    dump.write_text("## One long record\n" + " ".join(sentences) + "\n", encoding="utf-8")
    chunking = "[chunking]\nmax_tokens = 120\noverlap_tokens = 60\n"
    pipeline = write_pipeline(isolated, inputs=[dump], model="heuristic", extra=chunking)
    assert run_cli("run", str(pipeline)).exit_code == 0
    with duckdb.connect(str(isolated / "claims.duckdb"), read_only=True) as con:
        twice = con.execute(
            "SELECT claim_id, count(*) FROM observations GROUP BY claim_id, doc_sha256, char_start, char_end"
            " HAVING count(DISTINCT chunk_id) > 1"
        ).fetchall()
        spans = dict(
            con.execute(
                "SELECT claim_id, count(DISTINCT (doc_sha256, char_start, char_end))"
                " FROM observations GROUP BY claim_id"
            ).fetchall()
        )
    assert twice  # the overlap did yield the same span from two chunks
    claims = {c["claim_id"]: c for c in json.loads(run_cli("claims", "--json").stdout)}
    assert {cid: c["n_obs"] for cid, c in claims.items()} == spans
    claim_id = twice[0][0]
    text = run_cli("show", claim_id).stdout
    assert f"{claims[claim_id]['n_obs']} observation(s)" in text.splitlines()[0]
    assert "(the same span as [1], from an overlapping chunk)" in text
