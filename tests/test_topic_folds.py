"""The folds by topic that `bench/merge_quality.py` chooses and measures the merge on."""

from __future__ import annotations

import sys
from typing import Any

from pipelines import PROJECT_ROOT

sys.path.insert(0, str(PROJECT_ROOT / "bench"))

from topic_folds import choose, f1_of, fold_counts, in_process_merge, make_folds, orderings, pair_counts

from extract.stages.merge import MergePolicy


def _row(topic: str, n: int, text: str = "") -> dict[str, Any]:
    return {
        "text": text or f"statement {topic} {n} about routing losses and load balancing in experts",
        "stance": "consensus",
        "kind": "topic_report",
        "topic": topic,
        "field_path": "report.headline_claims",
        "model": "m",
        "quote": text or "q",
        "source": f"{topic}-{n}",
        "run_label": "t",
    }


def test_topics_stay_whole_and_every_fold_gets_gold_pairs() -> None:
    rows, gold = [], []
    for t, (size, groups) in {"a": (6, 2), "b": (4, 2), "c": (4, 1), "d": (2, 1), "e": (3, 3)}.items():
        for n in range(size):
            rows.append(_row(t, n))
            gold.append(f"{t}-{n % groups}")
    folds = make_folds(rows, gold, k=3)
    assert sorted(t for f in folds for t in f.topics) == ["a", "b", "c", "d", "e"]
    assert all({r["topic"] for r in f.rows} == set(f.topics) for f in folds)
    assert sum(len(f.rows) for f in folds) == len(rows)
    assert all(f.gold_pairs > 0 for f in folds)


def test_choose_takes_the_best_mean_and_measures_it_on_left_out_folds() -> None:
    # Candidate "x" is perfect on folds 0 and 1 and useless on 2; "y" is middling everywhere.
    perfect, useless, middling = (3, 3, 3), (0, 3, 3), (2, 3, 3)
    choice = choose({"x": [perfect, perfect, useless], "y": [middling, middling, middling]})
    assert choice.best == "x" and abs(choice.best_f1 - 2 / 3) < 1e-9
    # Leaving fold 0 out, "y" (0.667) beats "x" (0.5): the nested figure scores "y" there.
    assert [picked for picked, _ in choice.nested] == ["y", "y", "x"]
    assert abs(choice.nested[2][1] - 0.0) < 1e-9


def test_the_in_process_merge_places_like_the_merger_and_orders_differ() -> None:
    texts = [
        "Router z-loss fixes logit overflow and is orthogonal to the auxiliary balancing loss.",
        "Router z-loss fixes logit overflow; it is orthogonal to removing the auxiliary loss.",
        "Expert parallelism needs all-to-all communication across nodes.",
    ]
    rows = [_row("moe", n, text) for n, text in enumerate(texts)]
    folds = make_folds(rows, ["same", "same", "other"], k=1)
    assert {r["run_label"] for r in orderings(folds[0])[1]} != {"t"}
    with in_process_merge() as merge:
        labels = merge.labels(rows, MergePolicy())
        counts = fold_counts(folds, lambda r: merge.labels(r, MergePolicy()))
    assert labels[0] == labels[1] != labels[2]
    assert f1_of(counts[0])[2] == 1.0
    assert pair_counts(["a", "a", "b"], [1, 1, 1]) == (1, 3, 1)
