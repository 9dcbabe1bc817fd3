"""Merge quality against the claims dashboard: does our merge group observations the way
the real dashboard did?

    uv run python bench/merge_quality.py [--seeds PATH] [--search] [--blind] [--write-jsonl FILE]
                                         [--judge-accuracy P]

This module owns the benchmark: it turns every evidence item shown in
`seeds/000_claims_dashboard_excerpt.txt` into one observation in the SPEC import format
(without its dashboard claim id, which is kept aside as the gold label), merges them
(1) with a plain token-Jaccard baseline implemented here and (2) with the project itself
through `extract import` + `extract export observations`, and scores both groupings
against the dashboard's with pairwise precision, recall and F1.

Figures printed: claims, observations and gold pairs; baseline P/R/F1 at its threshold
(and the best threshold on a sweep); project P/R/F1; per fold by topic
(`topic_folds.py`), the baseline at 0.40, the baseline at the threshold best on the other
folds, and the project's merge with its defaults, side by side; with --search the policy
grid by folds and the nested estimate of choosing from it; with
--judge-accuracy P the project's P/R/F1 when borderline pairs go to a local judge that
answers from the gold grouping and is right with probability P (no model is reachable
here, so this bounds what `[merge] judge = true` can add rather than measuring a model);
time taken.

Caveat: `stance`, `domain` and `tags` are claim-level on the dashboard, so they are equal
within every gold group and a merge could lean on them; `--blind` leaves domain and tags
out to check that the project does not.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Hashable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from excerpt import DashboardClaim, parse_dashboard
from topic_folds import GRID, ORDERS, Counts, choose, f1_of, fold_counts, in_process_merge, make_folds, mean_f1

from extract.stages.merge import MergePolicy

ROOT = Path(__file__).resolve().parent.parent
EXCERPT = "000_claims_dashboard_excerpt.txt"
RUN_LABEL = "dashboard-excerpt"
# The best F1 of the sweep on the whole excerpt (0.40 and 0.45 are within 0.005 of each other).
BASELINE_THRESHOLD = 0.45
SWEEP = [round(0.05 * i, 2) for i in range(1, 20)]
COMMAND_TIMEOUT = 900.0

Observation = dict[str, Any]
Scores = tuple[float, float, float]


class ProjectUnavailable(RuntimeError):
    """`extract import` (or export) is not there yet, or failed."""


def default_seeds() -> Path:
    configured = os.environ.get("EXTRACT_SEEDS")
    return Path(configured) if configured else ROOT.parent / "shared" / "seeds"


# --- observations ---------------------------------------------------------------------


def observations_from(claims: Sequence[DashboardClaim], blind: bool = False) -> tuple[list[Observation], list[str]]:
    """One import row per shown evidence item, and (same order) its dashboard claim id.

    Each row's `source` is `obs-<index>`, the key that brings exported rows back to it.
    """
    rows: list[Observation] = []
    gold: list[str] = []
    for claim in claims:
        for item in claim.evidence:
            row: Observation = {
                "text": item.excerpt,
                "stance": claim.stance,
                "kind": item.kind,
                "topic": item.topic,
                "field_path": item.field_path,
                "model": item.model,
                "quote": item.excerpt,
                "citations": [item.arxiv_id] if item.arxiv_id else [],
                "lang": "en",
                "source": f"obs-{len(rows)}",
                "run_label": RUN_LABEL,
            }
            if not blind:
                row["tags"] = list(claim.tags)
                if claim.domain:
                    row["domain"] = claim.domain
            if item.camp is not None:
                row["camp"] = item.camp
            if item.date is not None:
                row["extracted_at"] = item.date
            rows.append(row)
            gold.append(claim.claim_id)
    return rows, gold


# --- metric ---------------------------------------------------------------------------


def _pairs(n: int) -> int:
    return n * (n - 1) // 2


def pairwise_scores(gold: Sequence[Hashable], predicted: Sequence[Hashable]) -> Scores:
    """Pairwise precision, recall, F1 of a clustering, from group sizes (no pair loop).

    A pair is a true positive when both labelings put it together. With no predicted
    (or no gold) pairs the undefined ratio counts as 0.
    """
    if len(gold) != len(predicted):
        raise ValueError(f"{len(gold)} gold labels but {len(predicted)} predicted")
    true_pos = sum(_pairs(n) for n in Counter(zip(gold, predicted, strict=True)).values())
    gold_pairs = sum(_pairs(n) for n in Counter(gold).values())
    pred_pairs = sum(_pairs(n) for n in Counter(predicted).values())
    precision = true_pos / pred_pairs if pred_pairs else 0.0
    recall = true_pos / gold_pairs if gold_pairs else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def gold_pair_count(gold: Sequence[Hashable]) -> int:
    return sum(_pairs(n) for n in Counter(gold).values())


# --- baseline: token-Jaccard, single link, within (topic, field path) -------------------

_TOKEN = re.compile(r"[a-z0-9]+")


def tokens(text: str) -> frozenset[str]:
    return frozenset(_TOKEN.findall(text.lower()))


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 0.0


def _find(parent: list[int], i: int) -> int:
    while parent[i] != i:
        parent[i] = parent[parent[i]]  # path halving keeps the trees flat
        i = parent[i]
    return i


def baseline_labels(observations: Sequence[Observation], threshold: float) -> list[int]:
    """Single-link clustering: two observations of the same (topic, field path) join when
    the Jaccard overlap of their token sets reaches `threshold`; joins are transitive
    (union-find), so a chain of close paraphrases ends up as one claim. Blocks are small
    (at most a few dozen rows), so all pairs within a block are compared."""
    blocks: dict[tuple[Any, Any], list[int]] = defaultdict(list)
    for i, row in enumerate(observations):
        blocks[(row["topic"], row["field_path"])].append(i)
    token_sets = [tokens(row["text"]) for row in observations]
    parent = list(range(len(observations)))
    for members in blocks.values():
        for x, i in enumerate(members):
            for j in members[x + 1 :]:
                if jaccard(token_sets[i], token_sets[j]) >= threshold:
                    parent[_find(parent, i)] = _find(parent, j)
    return [_find(parent, i) for i in range(len(observations))]


def block_recall_ceiling(observations: Sequence[Observation], gold: Sequence[str]) -> float:
    """Share of gold pairs whose two observations share (topic, field path): a merge that
    never crosses those blocks cannot recall more (the dashboard merged triage claims
    across topics)."""
    blocks = [(row["topic"], row["field_path"]) for row in observations]
    within = sum(_pairs(n) for n in Counter(zip(gold, blocks, strict=True)).values())
    total = gold_pair_count(gold)
    return within / total if total else 0.0


def pairs_by_overlap(observations: Sequence[Observation], gold: Sequence[str], at: float) -> tuple[int, int]:
    """Pairs in one (topic, field path) whose token Jaccard reaches `at`: how many the
    dashboard put in one claim, and how many it kept apart. Where the second number is
    not small, wording alone cannot reproduce its grouping."""
    blocks: dict[tuple[Any, Any], list[int]] = defaultdict(list)
    for i, row in enumerate(observations):
        blocks[(row["topic"], row["field_path"])].append(i)
    token_sets = [tokens(row["text"]) for row in observations]
    same = apart = 0
    for members in blocks.values():
        for x, i in enumerate(members):
            for j in members[x + 1 :]:
                if jaccard(token_sets[i], token_sets[j]) >= at:
                    same += gold[i] == gold[j]
                    apart += gold[i] != gold[j]
    return same, apart


def best_threshold(observations: Sequence[Observation], gold: Sequence[str]) -> tuple[float, Scores]:
    results = [(t, pairwise_scores(gold, baseline_labels(observations, t))) for t in SWEEP]
    return max(results, key=lambda result: result[1][2])


# --- the project: extract import + extract export observations -------------------------


def _extract(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    # The interpreter running this script is the project's (uv run), so `-m extract`
    # runs the working tree's CLI without another `uv run` resolution.
    return subprocess.run(
        [sys.executable, "-m", "extract", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
        check=False,
    )


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "(no output)"


def project_labels(observations: Sequence[Observation], pipeline_toml: str | None = None) -> tuple[list[str], int]:
    """Claim id the project gives each observation, and how many rows did not come back
    (rejected on import; each then counts as a claim of its own). `pipeline_toml`: the
    text of a pipeline whose [merge] settings the import uses."""
    with tempfile.TemporaryDirectory(prefix="merge-quality-") as tmp:
        work = Path(tmp)
        probe = _extract("import", "--help", cwd=work)
        if probe.returncode != 0:
            raise ProjectUnavailable("extract import not available")
        source = work / "observations.jsonl"
        source.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in observations), "utf-8")
        db = str(work / "claims.duckdb")
        options = []
        if pipeline_toml is not None:
            (work / "pipeline.toml").write_text(pipeline_toml, "utf-8")
            options = ["--pipeline", str(work / "pipeline.toml")]
        imported = _extract("import", str(source), "--db", db, *options, cwd=work)
        # Exit 1 means "finished with rejects": the rest was merged and can be scored.
        if imported.returncode not in (0, 1):
            raise ProjectUnavailable(f"extract import failed ({imported.returncode}): {_last_line(imported.stderr)}")
        exported = _extract("export", "observations", "--format", "jsonl", "--db", db, cwd=work)
        if exported.returncode != 0:
            raise ProjectUnavailable(f"extract export failed ({exported.returncode}): {_last_line(exported.stderr)}")
    by_source: dict[str, str] = {}
    for line in exported.stdout.splitlines():
        if line.strip():
            row = json.loads(line)
            if row.get("source") is not None and row.get("claim_id") is not None:
                by_source[str(row["source"])] = str(row["claim_id"])
    labels = [by_source.get(row["source"], f"missing-{row['source']}") for row in observations]
    missing = sum(label.startswith("missing-") for label in labels)
    return labels, missing


def score_project(observations: Sequence[Observation], gold: Sequence[str]) -> Scores:
    """Import the observations into a fresh database, export them with their claim ids,
    and score that grouping against `gold`. Raises ProjectUnavailable."""
    labels, _ = project_labels(observations)
    return pairwise_scores(gold, labels)


# --- the model-judged path, against a judge that knows the gold ---------------------------


def print_judged(observations: Sequence[Observation], gold: Sequence[str], accuracy: float) -> None:
    """Merge again with borderline pairs put to a local OpenAI-compatible judge that
    answers from the gold grouping, wrong with probability 1 - accuracy (decided by a
    hash of the pair, so runs repeat). No real model is asked: this bounds what the
    judged path can add, it does not measure a model."""
    sys.path.insert(0, str(ROOT / "tests"))
    from fake_openai import FakeOpenAI, user_text

    labels: dict[str, set[str]] = defaultdict(set)
    for row, label in zip(observations, gold, strict=True):
        labels[row["text"].strip()].add(label)

    def judge(request: dict[str, Any]) -> dict[str, Any]:
        pair = json.loads(user_text(request))
        a, b = pair["statement_a"], pair["statement_b"]
        same = bool(labels[a] & labels[b])
        flip = int(hashlib.sha256(f"{a}\x00{b}".encode()).hexdigest()[:8], 16) / 0xFFFFFFFF >= accuracy
        return {"same": same != flip, "reason": "gold"}

    with FakeOpenAI(judge) as server:
        pipeline = f'[pipeline]\nname = "judged"\n\n[model]\nname = "gold-judge"\nbase_url = "{server.base_url}"\n'
        pipeline += "\n[merge]\njudge = true\n"
        try:
            judged, _ = project_labels(observations, pipeline)
        except ProjectUnavailable as exc:
            print(f"model-judged path: {exc}")
            return
        asked = server.count()
    print(
        f"model-judged path (a judge right {accuracy:.0%} of the time, {asked} pairs asked): "
        f"{fmt(pairwise_scores(gold, judged))}"
    )


# --- report -----------------------------------------------------------------------------


def fmt(scores: Scores) -> str:
    precision, recall, f1 = scores
    return f"P {precision:.3f}  R {recall:.3f}  F1 {f1:.3f}"


def print_folds(observations: list[Observation], gold: list[str], search: bool) -> None:
    """Per fold by topic: the token-Jaccard baseline at 0.40 (the issue's reference), at
    the threshold best on the other folds, and the project's merge with its defaults;
    with `search`, the policy grid and the nested estimate of choosing from it."""
    folds = make_folds(observations, gold)
    with in_process_merge() as merge:
        fixed = fold_counts(folds, lambda rows: baseline_labels(rows, 0.4))
        sweep = {t: fold_counts(folds, lambda rows, t=t: baseline_labels(rows, t)) for t in SWEEP}
        swept = choose(sweep)
        project = fold_counts(folds, lambda rows: merge.labels(rows, MergePolicy()))
        print(
            f"folds by topic (k={len(folds)}; each fold merged on its own, as unseen topics are imported, "
            f"in {ORDERS} orders, counts pooled):"
        )
        print(
            f"  {'fold':<5}{'obs':>5}{'gold':>6}  {'Jaccard 0.40':<24}"
            f"{'Jaccard, t chosen on the others':<34}project (defaults)"
        )
        for i, fold in enumerate(folds):
            t = swept.nested[i][0]
            print(
                f"  {i:<5}{len(fold.rows):>5}{fold.gold_pairs:>6}  {_short(fixed[i]):<24}"
                f"{f't={t:.2f} ' + _short(sweep[t][i]):<34}{_short(project[i])}"
            )
        print(
            f"  mean F1: Jaccard 0.40 {mean_f1(fixed):.3f}; Jaccard with t chosen on the other folds "
            f"{swept.nested_mean:.3f}; project {mean_f1(project):.3f}"
        )
        worst = min(f1_of(p)[2] - f1_of(j)[2] for p, j in zip(project, fixed, strict=True))
        print(f"  project minus Jaccard 0.40, worst fold: {worst:+.3f}")
        for i, fold in enumerate(folds):
            print(f"  fold {i}: {', '.join(fold.topics)}")
        if search:
            started = time.perf_counter()
            table = {policy: fold_counts(folds, lambda rows, p=policy: merge.labels(rows, p)) for policy in GRID}
            picked = choose(table)
            print(f"policy search over {len(GRID)} policies ({time.perf_counter() - started:.0f}s):")
            for policy, f1 in picked.ranked[:5]:
                print(f"  mean fold F1 {f1:.3f}  {_policy(policy)}")
            same = "yes" if picked.best == MergePolicy() else "NO"
            print(f"  the best is the project's default: {same}")
            nested = "  ".join(f"{f1:.3f}" for _, f1 in picked.nested)
            print(
                "  nested (policy chosen on the other folds, scored on the fold): "
                f"{nested}  mean {picked.nested_mean:.3f}"
            )
            for i, (policy, _) in enumerate(picked.nested):
                print(f"    fold {i} chose {_policy(policy)}")


def _short(counts: Counts) -> str:
    precision, recall, f1 = f1_of(counts)
    return f"P {precision:.2f} R {recall:.2f} F1 {f1:.3f}"


def _policy(policy: MergePolicy) -> str:
    return (
        f"threshold {policy.threshold}, containment {policy.containment}, citation {policy.citation_bonus}, "
        f"camp {policy.camp_weight}, overlap {policy.overlap}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seeds", type=Path, default=default_seeds(), help="seed directory (default: $EXTRACT_SEEDS)")
    parser.add_argument(
        "--search", action="store_true", help="also search the policy grid by folds (how the defaults were chosen)"
    )
    parser.add_argument("--threshold", type=float, default=BASELINE_THRESHOLD, help="baseline Jaccard threshold")
    parser.add_argument("--blind", action="store_true", help="leave claim-level domain and tags out of the rows")
    parser.add_argument("--write-jsonl", type=Path, help="also write the import rows to this file")
    parser.add_argument(
        "--judge-accuracy",
        type=float,
        metavar="P",
        help="also merge with [merge] judge = true against a local judge that answers from the gold"
        " grouping, right with probability P (1.0: a perfect judge; what the model-judged path can add)",
    )
    args = parser.parse_args(argv)

    started = time.perf_counter()
    path = args.seeds / EXCERPT
    if not path.is_file():
        print(f"seed excerpt not found at {path} (use --seeds or set EXTRACT_SEEDS)", file=sys.stderr)
        return 2
    claims = parse_dashboard(path.read_text(encoding="utf-8"))
    observations, gold = observations_from(claims, blind=args.blind)
    if args.write_jsonl:
        args.write_jsonl.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in observations), "utf-8")
    shown = len(set(gold))
    print(
        f"claims: {len(claims)} ({shown} with evidence shown); observations: {len(observations)}; "
        f"gold pairs: {gold_pair_count(gold)}"
    )

    t0 = time.perf_counter()
    baseline = pairwise_scores(gold, baseline_labels(observations, args.threshold))
    best_t, best = best_threshold(observations, gold)
    baseline_s = time.perf_counter() - t0
    print(f"baseline (token Jaccard >= {args.threshold:.2f}, single link within topic+field path): {fmt(baseline)}")
    print(f"baseline best on sweep (t={best_t:.2f}): {fmt(best)}  [{baseline_s:.2f}s for {len(SWEEP) + 1} runs]")
    print(f"recall ceiling of any merge within (topic, field path): {block_recall_ceiling(observations, gold):.3f}")
    overlaps = ", ".join(
        "Jaccard >= {:.1f}: {} together / {} apart".format(at, *pairs_by_overlap(observations, gold, at))
        for at in (0.3, 0.4, 0.5)
    )
    print(f"gold pairs in one block by word overlap: {overlaps}")

    project: list[str] | None = None
    t0 = time.perf_counter()
    try:
        project, missing = project_labels(observations)
    except ProjectUnavailable as exc:
        print(f"project merge: {exc}")
    else:
        predicted = len(set(project))
        print(
            f"project merge: {fmt(pairwise_scores(gold, project))}  ({predicted} claims, {missing} rows not "
            f"exported, {time.perf_counter() - t0:.2f}s)"
        )
    if args.judge_accuracy is not None and project is not None:
        print_judged(observations, gold, args.judge_accuracy)
    print_folds(observations, gold, args.search)
    print(f"time: {time.perf_counter() - started:.2f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
