"""Model calls at scale against a local fake endpoint: throughput, CPU per call,
rpm compliance, and the cost of re-running an unchanged run.

    uv run python bench/bench_calls.py [--chunks 2000] [--latency 1.0] [--concurrency 64] [--rpm 600]

Figures printed:
- efficiency = achieved calls/s ÷ (C / L)   (target >= 0.9 with L = 1 s, C = 64)
- CPU ms per call spent in our process (the endpoint runs in another process)
- rpm efficiency = achieved calls/s ÷ (R / 60), and the 429s the endpoint refused (target 0)
- seconds for a re-run of the unchanged run (zero calls), and peak memory
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from extract.config import load_pipeline
from extract.pipeline import RunOptions, RunSummary, run_pipeline

ROOT = Path(__file__).resolve().parent.parent


@contextmanager
def endpoint(latency: float, rpm: float | None) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    cmd = [sys.executable, str(ROOT / "bench" / "serve_fake.py"), "--latency", str(latency)]
    if rpm:
        cmd += ["--rpm", str(rpm)]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdin is not None
    base_url = proc.stdout.readline().strip()
    try:
        yield base_url, proc
    finally:
        proc.stdin.close()
        proc.wait(timeout=30)


def write_inputs(directory: Path, n: int) -> Path:
    lines = ["# Bench list", ""]
    for i in range(n):
        lines += [f"## Paper {i}", f"Paper {i} reports that method {i} improves accuracy by {i % 97}% on task {i}.", ""]
    path = directory / "bench.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def write_pipeline(directory: Path, base_url: str, concurrency: int, rpm: float | None) -> Path:
    text = f"""
[pipeline]
name = "bench"
prompts = "{ROOT / "prompts"}"

[model]
name = "bench-model"
base_url = "{base_url}"
concurrency = {concurrency}
max_retries = 6
timeout = 60
{f"rpm = {int(rpm)}" if rpm else ""}
"""
    path = directory / "bench.toml"
    path.write_text(text, encoding="utf-8")
    return path


class Phase:
    """Times the extract phase alone (from the first call to the last answer)."""

    def __init__(self) -> None:
        self.started = self.ended = time.perf_counter()
        self.cpu_started = self.cpu_ended = time.process_time()

    def notice(self, message: str) -> None:
        return None

    def start(self, total: int) -> None:
        self.started, self.cpu_started = time.perf_counter(), time.process_time()

    def advance(self, stats: dict[str, float | None]) -> None:
        self.ended, self.cpu_ended = time.perf_counter(), time.process_time()

    def waiting(self, calls: int, seconds: float) -> None:
        return None


def timed_run(pipeline_path: Path, inputs: Path, db: Path) -> tuple[RunSummary, float, float, Phase]:
    pipeline = load_pipeline(pipeline_path)
    phase = Phase()
    wall, cpu = time.perf_counter(), time.process_time()
    summary = run_pipeline(pipeline, RunOptions(inputs=[inputs], db=db), phase)
    return summary, time.perf_counter() - wall, time.process_time() - cpu, phase


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chunks", type=int, default=2000)
    parser.add_argument("--latency", type=float, default=1.0)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--rpm", type=float, default=600.0)
    parser.add_argument("--rpm-chunks", type=int, default=300)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        inputs = write_inputs(work, args.chunks)
        with endpoint(args.latency, None) as (base_url, _):
            pipeline = write_pipeline(work, base_url, args.concurrency, None)
            summary, wall, cpu, phase = timed_run(pipeline, inputs, work / "a.duckdb")
            limit = args.concurrency / args.latency
            span = phase.ended - phase.started
            print(
                f"throughput (extract phase): {summary.calls} calls in {span:.1f} s = {summary.calls / span:.1f}"
                f" calls/s; limit C/L = {limit:.1f}; efficiency {summary.calls / span / limit:.3f}"
            )
            print(
                f"throughput (whole run, with ingest, chunking and start-up): {wall:.1f} s;"
                f" efficiency {summary.calls / wall / limit:.3f}"
            )
            phase_cpu = phase.cpu_ended - phase.cpu_started
            print(
                f"cpu: {1000 * phase_cpu / max(summary.calls, 1):.2f} ms per call in our process during the"
                f" extract phase ({cpu:.1f} s for the whole run)"
            )
            with duckdb.connect(str(work / "a.duckdb"), read_only=True) as con:
                mean_ms, p95_ms = con.execute(
                    "SELECT avg(latency_ms), quantile_cont(latency_ms, 0.95) FROM responses"
                ).fetchone() or (0, 0)
            print(
                f"latency seen by the client: mean {mean_ms:.0f} ms, p95 {p95_ms:.0f} ms (endpoint sleeps"
                f" {1000 * args.latency:.0f} ms)"
            )
            again, wall2, _, _ = timed_run(pipeline, inputs, work / "a.duckdb")
            peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(
                f"re-run unchanged: {again.calls} calls, {again.cached} cached, {wall2:.1f} s;"
                f" peak memory of this process so far (both runs) {peak_mb:.0f} MB"
            )

        rpm_inputs = work / "rpm"
        rpm_inputs.mkdir()
        rpm_file = write_inputs(rpm_inputs, args.rpm_chunks)
        with endpoint(0.05, args.rpm) as (base_url, proc):
            pipeline = write_pipeline(work, base_url, args.concurrency, args.rpm)
            summary, _, _, phase = timed_run(pipeline, rpm_file, work / "b.duckdb")
            wall = phase.ended - phase.started
        assert proc.stdout is not None
        served = proc.stdout.read().strip()
        rate = summary.calls / wall
        print(
            f"rpm: limit {args.rpm:.0f}/min; {summary.calls} calls in {wall:.1f} s = {rate:.2f} calls/s;"
            f" efficiency {rate / (args.rpm / 60):.3f}; retries {summary.retries}; endpoint says {served}"
        )


if __name__ == "__main__":
    main()
