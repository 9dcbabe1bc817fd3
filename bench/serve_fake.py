"""A local OpenAI-compatible endpoint for the benchmarks, run as its own process
so that its CPU time is not counted as ours.

    python bench/serve_fake.py --latency 1.0 [--rpm 600]

Prints its base URL on the first line, then serves until stdin closes. Every
answer quotes the first line of the data verbatim. With --rpm it enforces the
limit like a provider would (a token bucket of one second's worth of requests)
and answers 429 past it, counting them; the count is printed when it stops.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from fake_openai import FakeOpenAI, Reply
from pipelines import chunk_data


class Bucket:
    def __init__(self, rpm: float) -> None:
        self.rate = rpm / 60.0
        self.capacity = max(1.0, self.rate)
        self.level = self.capacity
        self.stamp = time.monotonic()
        self.lock = threading.Lock()
        self.refused = 0

    def take(self) -> bool:
        with self.lock:
            now = time.monotonic()
            self.level = min(self.capacity, self.level + (now - self.stamp) * self.rate)
            self.stamp = now
            if self.level >= 1.0:
                self.level -= 1.0
                return True
            self.refused += 1
            return False


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--latency", type=float, default=1.0)
    parser.add_argument("--rpm", type=float, default=None)
    args = parser.parse_args()
    bucket = Bucket(args.rpm) if args.rpm else None

    def answer(request: dict[str, Any]) -> Reply:
        if bucket is not None and not bucket.take():
            return Reply(status=429, content="rate limited", headers={"retry-after-ms": "100"})
        line = chunk_data(request).splitlines()[0]
        claim = {
            "text": line,
            "stance": "consensus",
            "domain": "training",
            "tags": ["Bench"],
            "topic": None,
            "citations": [],
            "quote": line,
        }
        return Reply(
            content=json.dumps({"claims": [claim]}),
            delay=args.latency,
            usage={"prompt_tokens": 300, "completion_tokens": 60},
        )

    with FakeOpenAI(answer) as server:
        print(server.base_url, flush=True)
        sys.stdin.read()
        print(json.dumps({"requests": server.count(), "refused_429": bucket.refused if bucket else 0}), flush=True)


if __name__ == "__main__":
    main()
