"""Merge at scale: N synthetic observations over 200 topics imported into an empty
database, then 10,000 more merged incrementally. Prints seconds, the CPU seconds of
the placing thread, and peak memory: of this process, and of the import's reading
process (a large file is parsed in a second process: `pipeline/import_worker.py`).

    uv run python bench/bench_merge_scale.py [--observations 1000000] [--incremental 10000]

Targets (issue 15): the first under 120 s and 4 GB, the second under 5 s.
Observations are paraphrases (word drops and swaps) of base claims, spread over
topics, report field paths and camps like the dashboard's.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from extract.pipeline import import_observations

WORDS = [f"w{i}" for i in range(5000)]


def synthetic(n: int, seed: int, topics: int = 200) -> Iterator[dict[str, object]]:
    """Rows one at a time, so the bench's own memory stays out of the peak it reports."""
    rng = random.Random(seed)
    bases: dict[tuple[int, int], list[str]] = {}
    for i in range(n):
        topic = rng.randrange(topics)
        base_no = rng.randrange(max(1, n // topics // 4))
        base = bases.setdefault((topic, base_no), rng.sample(WORDS, 18))
        words = [w for w in base if rng.random() > 0.15]
        if rng.random() < 0.3:
            words.append(rng.choice(WORDS))
        position = base_no % 4
        field = rng.choice(
            ["report.headline_claims", f"report.positions[{position}].stance", f"report.positions[{position}].counter"]
        )
        yield (
            {
                "text": " ".join(words),
                "stance": "contested" if "positions" in field else "consensus",
                "kind": "topic_report",
                "topic": f"topic-{topic}",
                "field_path": field,
                "model": "synthetic",
                "quote": " ".join(words),
                "camp": f"camp {base_no} {base[0]}" if "positions" in field else None,
                "source": f"synthetic-{seed}-{i}",
            }
        )


def write(path: Path, rows: Iterable[dict[str, object]]) -> Path:
    with path.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row) + "\n")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--observations", type=int, default=1_000_000)
    parser.add_argument("--incremental", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        first = write(work / "first.jsonl", synthetic(args.observations, seed=1))
        more = write(work / "more.jsonl", synthetic(args.incremental, seed=2))
        db = work / "scale.duckdb"
        started, cpu = time.perf_counter(), time.thread_time()
        s1 = import_observations(first, db)
        t1, cpu1 = time.perf_counter() - started, time.thread_time() - cpu
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        reader_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(
            f"first merge: {s1.observations} observations -> {s1.claims} claims in {t1:.1f} s"
            f" (placing thread {cpu1:.1f} CPU s); peak memory {peak_mb:.0f} MB,"
            f" reading process {reader_mb:.0f} MB, together at most {peak_mb + reader_mb:.0f} MB"
        )
        started, cpu = time.perf_counter(), time.thread_time()
        s2 = import_observations(more, db)
        t2, cpu2 = time.perf_counter() - started, time.thread_time() - cpu
        print(
            f"incremental merge: {s2.observations} observations in {t2:.1f} s (placing thread {cpu2:.1f} CPU s;"
            f" claims touched {s2.claims})"
        )


if __name__ == "__main__":
    main()
