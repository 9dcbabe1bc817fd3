"""Merge quality on topics a merge was not tuned on: folds by topic, for
`bench/merge_quality.py`.

The dashboard's topics are split into `K` folds, each topic whole in one fold (topics
with the most gold pairs dealt first, each to the fold with the fewest so far, so
every fold has some). Each fold is merged on its own, as unseen topics would be
imported, in-process with the project's `Merger` and a `MergePolicy`, and scored with
pairwise P/R/F1. Placement is incremental, so it depends on the order observations
come in: an import places lines in the order of their ids (hashes of the line), and a
fold is merged in `ORDERS` orders (the same rows under another `run_label`), its
counts pooled, so that a choice does not fit one order. `choose` searches `GRID` for
the policy with the best mean fold F1 (how the defaults in
`extract.stages.merge` were chosen), and measures that choice honestly: for
each fold, the policy best on the other folds, scored on it (nested cross-validation).
"""

from __future__ import annotations

import itertools
import json
import tempfile
from collections import Counter
from collections.abc import Callable, Hashable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from extract.stages.importing import import_batches
from extract.stages.merge import MergePolicy, Merger
from extract.store import open_database

K = 5
ORDERS = 4
# threshold, containment share, citation bonus, camp weight, plain overlap (1.0: only
# identical token sets join on overlap alone).
GRID = [
    MergePolicy(threshold=t, containment=c, citation_bonus=b, camp_weight=w, overlap=o)
    for t, c, b, w, o in itertools.product(
        [0.6, 0.65, 0.7, 0.75, 0.8], [0.25, 0.5, 0.75], [0.0, 0.1, 0.2], [0.15, 0.3, 0.45, 0.6], [0.35, 0.4, 0.45, 1.0]
    )
]

Observation = dict[str, Any]
Counts = tuple[int, int, int]  # true pairs, predicted pairs, gold pairs


def _pairs(n: int) -> int:
    return n * (n - 1) // 2


def pair_counts(gold: Sequence[Hashable], predicted: Sequence[Hashable]) -> Counts:
    return (
        sum(_pairs(n) for n in Counter(zip(gold, predicted, strict=True)).values()),
        sum(_pairs(n) for n in Counter(predicted).values()),
        sum(_pairs(n) for n in Counter(gold).values()),
    )


def f1_of(counts: Counts) -> tuple[float, float, float]:
    true, predicted, gold = counts
    precision = true / predicted if predicted else 0.0
    recall = true / gold if gold else 0.0
    return precision, recall, (2 * precision * recall / (precision + recall) if precision + recall else 0.0)


@dataclass
class Fold:
    topics: list[str]
    rows: list[Observation]
    gold: list[str]

    @property
    def gold_pairs(self) -> int:
        return pair_counts(self.gold, self.gold)[2]


def make_folds(rows: Sequence[Observation], gold: Sequence[str], k: int = K) -> list[Fold]:
    within: Counter[str] = Counter()
    for label, n in Counter((row["topic"] or "", g) for row, g in zip(rows, gold, strict=True)).items():
        within[label[0]] += _pairs(n)
    sizes = Counter(row["topic"] or "" for row in rows)
    load = [(0, 0)] * k
    topics: list[list[str]] = [[] for _ in range(k)]
    for topic in sorted(sizes, key=lambda t: (-within[t], -sizes[t], t)):
        at = min(range(k), key=lambda i: (load[i], i))
        topics[at].append(topic)
        load[at] = (load[at][0] + within[topic], load[at][1] + sizes[topic])
    folds = []
    for members in topics:
        keep = [i for i, row in enumerate(rows) if (row["topic"] or "") in members]
        folds.append(Fold(members, [rows[i] for i in keep], [gold[i] for i in keep]))
    return folds


class InProcessMerge:
    """Merges rows (SPEC import format) with a policy and no arbiter, in a scratch
    database: each call a fresh merge. Rows are parsed once per fold."""

    def __init__(self, scratch: Path) -> None:
        self.scratch = scratch
        self._parsed: dict[tuple[str, ...], tuple[Any, list[Any]]] = {}

    def labels(self, rows: Sequence[Observation], policy: MergePolicy) -> list[str]:
        db, observations = self._parse(rows)
        placed = Merger(db, policy=policy).assign(list(observations))
        by_source = {o.source: o.claim_id for o in placed}
        return [by_source[row["source"]] for row in rows]

    def _parse(self, rows: Sequence[Observation]) -> tuple[Any, list[Any]]:
        key = tuple((row["source"], row.get("run_label")) for row in rows)
        if key not in self._parsed:
            n = len(self._parsed)
            source = self.scratch / f"fold-{n}.jsonl"
            source.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
            db = open_database(self.scratch / f"fold-{n}.duckdb")
            observations = [o for batch in import_batches(source, "r-folds", {}, {}, db=db) for o in batch.observations]
            self._parsed[key] = (db, observations)
        return self._parsed[key]

    def close(self) -> None:
        for db, _ in self._parsed.values():
            db.close()


@contextmanager
def in_process_merge() -> Iterator[InProcessMerge]:
    with tempfile.TemporaryDirectory(prefix="merge-folds-") as tmp:
        merge = InProcessMerge(Path(tmp))
        try:
            yield merge
        finally:
            merge.close()


def orderings(fold: Fold, n: int = ORDERS) -> list[list[Observation]]:
    """The fold's rows, then the same rows under n - 1 other run labels: other ids,
    so another placement order."""
    return [fold.rows] + [
        [{**row, "run_label": f"{row.get('run_label')}#{i}"} for row in fold.rows] for i in range(1, n)
    ]


def fold_counts(folds: Sequence[Fold], labeler: Callable[[list[Observation]], list[Any]]) -> list[Counts]:
    """Per fold, the pair counts pooled over its orderings."""
    out = []
    for fold in folds:
        counts = [pair_counts(fold.gold, labeler(rows)) for rows in orderings(fold)]
        out.append((sum(c[0] for c in counts), sum(c[1] for c in counts), sum(c[2] for c in counts)))
    return out


def mean_f1(counts: Sequence[Counts]) -> float:
    return sum(f1_of(c)[2] for c in counts) / len(counts) if counts else 0.0


@dataclass
class Choice:
    best: Any  # the candidate with the best mean fold F1 over every fold
    best_f1: float
    # Per fold: the candidate best on the other folds, and its F1 on this one.
    nested: list[tuple[Any, float]]
    ranked: list[tuple[Any, float]]  # every candidate with its mean fold F1, best first

    @property
    def nested_mean(self) -> float:
        return sum(f1 for _, f1 in self.nested) / len(self.nested)


def choose(table: dict[Any, list[Counts]]) -> Choice:
    """The candidate (a policy, a threshold...) with the best mean fold F1, and the
    nested estimate of that choice on unseen folds. Ties go to the first candidate."""
    candidates = list(table)
    k = len(next(iter(table.values())))

    def mean_without(candidate: Any, left_out: int) -> float:
        return mean_f1([c for i, c in enumerate(table[candidate]) if i != left_out])

    nested = []
    for fold in range(k):
        picked = max(candidates, key=lambda c: mean_without(c, fold))
        nested.append((picked, f1_of(table[picked][fold])[2]))
    ranked = sorted(((c, mean_f1(table[c])) for c in candidates), key=lambda item: -item[1])
    return Choice(ranked[0][0], ranked[0][1], nested, ranked)
