"""`extract import` and the merge: paraphrases join, different claims stay apart, ids stay put."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from concurrent.futures import Future
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

import duckdb
import pytest

from extract.pipeline import import_worker, importing, storing
from extract.stages.importing import import_batches
from extract.stages.merge import Claim, Facts, MemoryIndex, Merger, Signature, StoredIndex, TokenWeights
from extract.stages.merge import index as merge_index
from extract.store import Database, open_database
from extract.store.claim_index import INDEX_COLUMNS, token_frequencies
from extract.store.documents import record_lookup

from pipelines import PROJECT_ROOT, run_cli


def _obs(text: str, **extra: Any) -> dict[str, Any]:
    base = {
        "text": text,
        "stance": "contested",
        "kind": "topic_report",
        "topic": "moe-landscape",
        "field_path": "report.positions[2].stance",
        "model": "gpt-x",
        "quote": text,
    }
    return {**base, **extra}


def _write(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _claims_by_text(db: Path) -> dict[str, str]:
    with duckdb.connect(str(db), read_only=True) as con:
        return dict(con.execute("SELECT text, claim_id FROM observations").fetchall())


CAMP = "learned routing/balancing is overrated (random/frozen routers)"
A1 = (
    "Many MoE gains come from total-parameter capacity under sparse activation rather than sophisticated routing;"
    " in some settings random or frozen routers match learned ones."
)
A2 = (
    "Claims many MoE gains come from capacity effects (more total params with sparse activation) rather than"
    " sophisticated routing; in some settings frozen random routers are competitive."
)
B1 = "Expert specialisation emerges only with auxiliary-loss-free balancing, so router design is the central lever."


def test_paraphrases_merge_and_other_camps_stay_apart(isolated: Path) -> None:
    rows = [
        _obs(A1, camp=CAMP),
        _obs(A2, camp=CAMP),
        _obs(B1, camp="router design is the central lever for specialisation"),
        _obs(A1, camp=CAMP, field_path="report.positions[2].counter"),  # a counter is never its stance
        _obs(A1, camp=CAMP, topic="other-topic"),  # another debate
    ]
    result = run_cli("import", str(_write(isolated / "obs.jsonl", rows)), "--json")
    summary = json.loads(result.stdout)
    assert result.exit_code == 0 and summary["observations"] == 5
    with duckdb.connect(str(isolated / "claims.duckdb"), read_only=True) as con:
        groups = con.execute("SELECT list(text ORDER BY text) FROM observations GROUP BY claim_id").fetchall()
        n_obs = con.execute("SELECT max(n_obs), count(*) FROM claims").fetchone()
    assert sorted(len(g[0]) for g in groups) == [1, 1, 1, 2]
    assert [sorted([A1, A2])] == [g[0] for g in groups if len(g[0]) == 2]
    assert n_obs == (2, 4)


def test_ids_are_stable_and_reimport_adds_nothing(isolated: Path) -> None:
    first = _write(isolated / "a.jsonl", [_obs(A1, camp=CAMP), _obs(B1, camp="router design is the lever")])
    assert run_cli("import", str(first)).exit_code == 0
    before = _claims_by_text(isolated / "claims.duckdb")
    again = json.loads(run_cli("import", str(first), "--json").stdout)
    assert again["observations"] == 0 and again["duplicates"] == 2
    assert run_cli("import", str(_write(isolated / "b.jsonl", [_obs(A2, camp=CAMP)]))).exit_code == 0
    after = _claims_by_text(isolated / "claims.duckdb")
    assert {t: after[t] for t in before} == before  # adding observations changed no existing id
    assert after[A2] == before[A1]


ELSE = "Token dropping hurts quality at inference time."


def _placed(db: Path) -> dict[str, tuple[str, list[str]]]:
    """Each observation's claim and flags, by text."""
    with duckdb.connect(str(db), read_only=True) as con:
        return {t: (c, f) for t, c, f in con.execute("SELECT text, claim_id, flags FROM observations").fetchall()}


def test_a_line_that_names_its_claim_is_kept_in_it(isolated: Path) -> None:
    """An exported line carries its claim id: the merge keeps it there, whatever its wording,
    as long as the claim is of its block; a stored claim is read for it."""
    named = "c-0123456789"
    first = [_obs(A1, camp=CAMP, claim_id=named), _obs(B1, camp=CAMP, claim_id=named)]
    assert run_cli("import", str(_write(isolated / "a.jsonl", first))).exit_code == 0
    placed = _placed(isolated / "claims.duckdb")
    # B1 says something else than A1 (on its words it would start a claim of its own).
    assert placed[A1] == placed[B1] == (named, [])
    counter = "Routers are not overrated: learned balancing beats random routing at scale."
    later = [
        _obs(ELSE, camp=CAMP, claim_id=named),  # the next import: the claim is read from the database
        _obs(counter, field_path="report.positions[2].counter", claim_id=named),  # another block
        _obs("A statement from another corpus.", claim_id="claim-42"),  # not an id of this shape
    ]
    assert run_cli("import", str(_write(isolated / "b.jsonl", later))).exit_code == 0
    placed = _placed(isolated / "claims.duckdb")
    assert placed[ELSE] == (named, [])
    assert placed[counter][0] != named and placed[counter][1] == [f"claim_id_not_kept:{named}"]
    assert placed["A statement from another corpus."][1] == ["claim_id_not_kept:claim-42"]
    with duckdb.connect(str(isolated / "claims.duckdb"), read_only=True) as con:
        assert con.execute("SELECT n_obs FROM claims WHERE claim_id = ?", [named]).fetchone() == (3,)


def _cited(db: Path) -> dict[str, tuple[list[str], list[str]]]:
    """Each observation's citations and flags, by text."""
    with duckdb.connect(str(db), read_only=True) as con:
        return {t: (c, f) for t, c, f in con.execute("SELECT text, citations, flags FROM observations").fetchall()}


def test_empty_citations_are_dropped_and_a_claim_id_naming_no_claim_is_flagged(isolated: Path) -> None:
    named, nowhere = "c-0123456789", "c-abcdefabcd"
    headline = "report.headline_claims"
    rows = [
        # Cites a claim a later line of the file carries, and one no line nor the database has.
        _obs(ELSE, field_path=headline, stance="consensus", citations=[named, nowhere]),
        _obs(A1, camp=CAMP, claim_id=named, citations=["", "  "]),
    ]
    result = run_cli("import", str(_write(isolated / "a.jsonl", rows)), "--json")
    assert result.exit_code == 0 and json.loads(result.stdout)["rejects"] == 0
    cited = _cited(isolated / "claims.duckdb")
    assert cited[A1] == ([], [])  # the empty citations are gone, and flag nothing
    assert cited[ELSE] == ([named, nowhere], [f"unknown_claim:{nowhere}"])
    # The next file's citation of the claim: stored now, so it names a claim.
    later = [_obs(B1, field_path=headline, stance="consensus", citations=[named])]
    assert run_cli("import", str(_write(isolated / "b.jsonl", later))).exit_code == 0
    assert _cited(isolated / "claims.duckdb")[B1] == ([named], [])
    # A claim id is no source a reader can follow, known or not.
    visible = {c["text"] for c in json.loads(run_cli("claims", "--visible", "--json").stdout)}
    assert visible == {A1}  # the camp anchor


def test_an_exported_made_up_citation_stays_flagged(isolated: Path) -> None:
    """An export's `unknown_citation:` of an arXiv id or URL no record here has is taken back
    (the chunk that showed it made up is not here); a line without the flag is not flagged."""
    made_up, url = "2401.99999", "https://example.org/made-up"
    rows = [
        _obs(A1, citations=[made_up, url], flags=[f"unknown_citation:{made_up}", f"unknown_citation:{url}"]),
        _obs(B1, citations=[made_up, url]),  # from elsewhere: taken as a source
    ]
    assert run_cli("import", str(_write(isolated / "a.jsonl", rows))).exit_code == 0
    cited = _cited(isolated / "claims.duckdb")
    assert cited[A1] == ([made_up, url], [f"unknown_citation:{made_up}", f"unknown_citation:{url}"])
    assert cited[B1] == ([made_up, url], [])
    visible = {c["text"] for c in json.loads(run_cli("claims", "--visible", "--json").stdout)}
    assert visible == {B1}


def test_a_new_claim_never_takes_a_stored_claims_id(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A new claim whose id (from its text, scope and topic) a stored claim has goes on
    to n = 1, also when that stored claim was never read: here every token is too
    common to find candidates by, so the second import reads no stored claim at all."""
    monkeypatch.setattr(merge_index, "COMMON_POSTINGS", 0)
    db = isolated / "claims.duckdb"
    importing.import_observations(_write(isolated / "a.jsonl", [_obs(A1, camp=CAMP)]), db)
    importing.import_observations(_write(isolated / "b.jsonl", [_obs(A1, camp=CAMP, model="gpt-y")]), db)
    with duckdb.connect(str(db), read_only=True) as con:
        placed = con.execute("SELECT model, claim_id FROM observations ORDER BY model").fetchall()
        claims = con.execute("SELECT n_obs FROM claims").fetchall()
        index = con.execute("SELECT count(*), count(DISTINCT claim_id) FROM claim_index").fetchone()
    assert len({claim_id for _, claim_id in placed}) == 2
    assert claims == [(1,), (1,)] and index == (2, 2)


def _rejects(db: Path) -> list[str]:
    with duckdb.connect(str(db), read_only=True) as con:
        return [r[0] for r in con.execute("SELECT detail FROM rejects ORDER BY detail").fetchall()]


def test_a_line_reusing_an_obs_id_for_other_content_is_a_reject(isolated: Path) -> None:
    """An exported line keeps its obs_id; edited, it is not silently taken for a duplicate."""
    first = _write(isolated / "a.jsonl", [_obs(A1, camp=CAMP, obs_id="o-0123456789ab")])
    assert run_cli("import", str(first)).exit_code == 0
    edited = [
        _obs(A1 + " (edited)", camp=CAMP, obs_id="o-0123456789ab"),  # a stored observation's id
        _obs(B1, obs_id="o-00000000000b"),
        _obs(B1 + " Again.", obs_id="o-00000000000b"),  # the line before's id
        _obs(A1, camp=CAMP, obs_id="o-0123456789ab"),  # the stored observation itself: a duplicate
    ]
    result = run_cli("import", str(_write(isolated / "b.jsonl", edited)), "--json")
    summary = json.loads(result.stdout)
    assert result.exit_code == 1 and (summary["observations"], summary["duplicates"], summary["rejects"]) == (1, 1, 2)
    assert _rejects(isolated / "claims.duckdb") == [
        "line 1: obs_id o-0123456789ab is a stored observation with other content",
        "line 3: obs_id o-00000000000b is on line 2 with other content",
    ]
    with duckdb.connect(str(isolated / "claims.duckdb"), read_only=True) as con:
        raw = con.execute("SELECT raw_output FROM rejects ORDER BY detail").fetchall()
    assert json.loads(raw[0][0])["text"] == A1 + " (edited)"  # the line is kept whole


def test_what_an_export_line_carries_is_checked(isolated: Path) -> None:
    rows = [
        _obs("Reversed span.", doc_sha256="a" * 64, char_start=9, char_end=3),
        _obs("Half a span.", doc_sha256="a" * 64, char_start=9),
        _obs("Short hash.", doc_sha256="abc", char_start=1, char_end=3),
        _obs("Foreign ids.", obs_id="obs-42", parent_obs_id="42"),
        _obs("Zoned.", created_at="2026-01-02T10:00:00+02:00"),
    ]
    result = run_cli("import", str(_write(isolated / "obs.jsonl", rows)), "--json")
    assert result.exit_code == 1 and json.loads(result.stdout)["rejects"] == 3
    details = _rejects(isolated / "claims.duckdb")
    assert "char_start 9 is after char_end 3" in details[0]
    assert "char_start and char_end go together" in details[1]
    assert details[2].startswith("line 3: doc_sha256: String should match pattern")
    with duckdb.connect(str(isolated / "claims.duckdb"), read_only=True) as con:
        kept = dict(con.execute("SELECT text, flags FROM observations").fetchall())
        zoned = con.execute("SELECT created_at FROM observations WHERE text = 'Zoned.'").fetchone()
    assert kept["Foreign ids."] == ["obs_id_not_kept:obs-42", "parent_obs_id_not_kept:42"]
    assert str(zoned[0]) == "2026-01-02 08:00:00"  # in UTC, as every stored time


def test_incremental_merge_equals_one_merge(isolated: Path) -> None:
    """An import reads only the blocks it touches and the stored token counts; the
    claims it makes are those one import of everything makes."""
    rows = [
        _obs(A1, camp=CAMP),
        _obs(B1, camp="router design is the central lever for specialisation"),
        _obs(A1, camp=CAMP, topic="other-topic"),
        _obs(A2, camp=CAMP),
        _obs(A2, camp=CAMP, topic="other-topic"),
        _obs("Routers barely matter at scale.", kind="ref_triage", topic=None, field_path=None),
    ]
    one = isolated / "one.duckdb"
    assert run_cli("import", str(_write(isolated / "all.jsonl", rows)), "--db", str(one)).exit_code == 0
    split = isolated / "split.duckdb"
    for i, row in enumerate(rows):
        assert run_cli("import", str(_write(isolated / f"{i}.jsonl", [row])), "--db", str(split)).exit_code == 0
    assert _claims_by_text(split) == _claims_by_text(one)
    with duckdb.connect(str(split), read_only=True) as con:
        stored = dict(con.execute("SELECT token, df FROM token_df").fetchall())
        recount = dict(
            con.execute(
                "SELECT token, count(*) FROM (SELECT unnest(tokens) AS token FROM claim_index) GROUP BY token"
            ).fetchall()
        )
    assert stored == recount


def test_bad_lines_are_rejected_with_the_raw_line(isolated: Path) -> None:
    path = isolated / "bad.jsonl"
    path.write_text(json.dumps(_obs(A1, camp=CAMP)) + "\nnot json\n" + json.dumps({"text": "no stance"}) + "\n")
    result = run_cli("import", str(path), "--json")
    assert result.exit_code == 1 and json.loads(result.stdout)["rejects"] == 2
    with duckdb.connect(str(isolated / "claims.duckdb"), read_only=True) as con:
        rows = con.execute("SELECT reason, raw_output FROM rejects ORDER BY detail").fetchall()
    assert [r[0] for r in rows] == ["invalid_import", "invalid_import"]
    assert {r[1] for r in rows} == {"not json", json.dumps({"text": "no stance"})}


def test_a_line_that_is_not_utf8_is_a_reject_and_the_rest_imports(isolated: Path) -> None:
    path = isolated / "mixed.jsonl"
    good = [json.dumps(_obs(A1, camp=CAMP)).encode(), json.dumps(_obs(B1)).encode()]
    path.write_bytes(b"\xef\xbb\xbf" + good[0] + b'\n{"text": "caf\xe9"}\n' + good[1] + b"\n")
    result = run_cli("import", str(path), "--json")
    summary = json.loads(result.stdout)
    assert result.exit_code == 1 and (summary["observations"], summary["rejects"]) == (2, 1)
    with duckdb.connect(str(isolated / "claims.duckdb"), read_only=True) as con:
        detail, raw = con.execute("SELECT detail, raw_output FROM rejects").fetchone() or ("", "")
    assert detail == "line 2: not UTF-8 at byte 13" and raw == '{"text": "caf\ufffd"}'


def test_an_empty_file_is_a_usage_error_and_starts_no_run(isolated: Path) -> None:
    (isolated / "empty.jsonl").write_text("\n  \n", encoding="utf-8")
    result = run_cli("import", str(isolated / "empty.jsonl"))
    assert result.exit_code == 2 and result.stderr.startswith("error: nothing to import:")
    assert not (isolated / "claims.duckdb").exists() or run_cli("runs", "--json").stdout.strip() == "[]"


def test_a_binary_file_is_refused_in_one_line_and_starts_no_run(isolated: Path) -> None:
    (isolated / "archive.jsonl").write_bytes(b"PK\x03\x04" + bytes(range(256)) * 8)
    result = run_cli("import", str(isolated / "archive.jsonl"))
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.startswith("error: not a JSONL file:") and len(result.stderr.splitlines()) == 1
    assert not (isolated / "claims.duckdb").exists()


def test_the_summary_says_why_the_first_line_was_rejected(isolated: Path) -> None:
    path = isolated / "bad.jsonl"
    path.write_text(json.dumps(_obs(A1, camp=CAMP)) + "\n" + json.dumps({"text": "no stance"}) + "\nnot json\n")
    result = run_cli("import", str(path))
    assert result.exit_code == 1
    (line,) = result.stdout.splitlines()
    assert "2 rejected (first: line 2: " in line and "stance" in line and line.endswith("all: extract export rejects)")
    summary = json.loads(run_cli("import", str(path), "--json", "--db", str(isolated / "b.duckdb")).stdout)
    assert summary["first_reject"].startswith("line 2: ")


def test_a_long_file_imports_in_batches(isolated: Path) -> None:
    path = _write(isolated / "many.jsonl", [_obs(f"Claim number {i} about routers.", camp=CAMP) for i in range(5)])
    batches = list(import_batches(path, "run-x", {}, {}, size=2))
    assert [b.lines for b in batches] == [2, 2, 1]
    assert len({o.obs_id for b in batches for o in b.observations}) == 5


def test_export_then_import_round_trips(isolated: Path) -> None:
    assert run_cli("run", str(PROJECT_ROOT / "pipelines" / "demo.toml")).exit_code == 0
    exported = isolated / "obs.jsonl"
    assert run_cli("export", "observations", "--out", str(exported)).exit_code == 0
    other = isolated / "other.duckdb"
    summary = json.loads(run_cli("import", str(exported), "--db", str(other), "--json").stdout)
    lines = exported.read_text(encoding="utf-8").splitlines()
    assert summary["observations"] == len(lines) and summary["rejects"] == 0
    with duckdb.connect(str(other), read_only=True) as con:
        texts = sorted(r[0] for r in con.execute("SELECT text FROM observations").fetchall())
    assert texts == sorted(json.loads(line)["text"] for line in lines)


def test_contested_claim_spawns_a_topic_and_hide_rule(isolated: Path) -> None:
    rows = [
        _obs(A1, camp=CAMP, tags=["Routing", "Capacity"]),
        _obs(A2, camp=CAMP, tags=["Routing"]),
        _obs(A1 + " Really.", camp=CAMP, model="other-model"),
        _obs(
            "An uncited headline statement about expert counts.",
            field_path="report.headline_claims",
            stance="consensus",
        ),
    ]
    assert run_cli("import", str(_write(isolated / "obs.jsonl", rows))).exit_code == 0
    claims = json.loads(run_cli("claims", "--json").stdout)
    spawned = [c for c in claims if c["spawned"]]
    assert [(c["n_obs"], c["spawned"]) for c in spawned] == [(3, "capacity-vs-routing")]
    visible = json.loads(run_cli("claims", "--visible", "--json").stdout)
    assert {c["claim_id"] for c in visible} == {spawned[0]["claim_id"]}  # the uncited non-camp claim is hidden
    pipeline = isolated / "p.toml"
    pipeline.write_text('[[topics]]\nslug = "moe-landscape"\ntitle = "MoE"\n')
    topics = json.loads(run_cli("topics", str(pipeline), "--json").stdout)
    assert topics == [
        {"slug": "moe-landscape", "declared": True, "records": 0, "claims": 2, "report_runs": 1},
        {"slug": "capacity-vs-routing", "declared": False, "records": 0, "claims": 1, "report_runs": 0},
    ]


def test_batches_stored_while_the_next_is_placed_count_duplicates_once(
    isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A line repeated in the next batch is a duplicate even while its first batch is
    still being stored, and small batches place as the same claims as one batch would."""
    # Batches of two lines: the first line of the second batch repeats one of the first.
    rows = [_obs(f"Claim number {i % 3} about routers and experts.", camp=CAMP) for i in range(12)]
    path = _write(isolated / "repeats.jsonl", rows)
    whole = importing.import_observations(path, isolated / "whole.duckdb")
    save = storing.save_observations

    def slow_save(db: Any, observations: Any) -> Any:
        time.sleep(0.05)  # the next batch is placed before this one is stored
        return save(db, observations)

    monkeypatch.setattr(storing, "save_observations", slow_save)
    small = importing.import_observations(path, isolated / "small.duckdb", batch_lines=2)
    assert (small.lines, small.observations, small.duplicates) == (whole.lines, whole.observations, whole.duplicates)
    assert (small.observations, small.duplicates) == (3, 9)
    assert _claims_by_text(isolated / "small.duckdb") == _claims_by_text(isolated / "whole.duckdb")
    with duckdb.connect(str(isolated / "small.duckdb"), read_only=True) as con:
        assert con.execute("SELECT sum(n_obs) FROM claim_index").fetchone() == (3,)


@pytest.mark.parametrize("parallel", [False, True])
def test_an_import_reports_its_progress_batch_by_batch(isolated: Path, parallel: bool) -> None:
    """After each stored batch: bytes read so far (growing, ending at the file's size), the
    size, and the running counts, so a long import can draw a bar."""
    rows = [_obs(f"Claim number {i} about routers and experts.", camp=CAMP) for i in range(7)]
    path = _write(isolated / "progress.jsonl", rows)
    path.write_text(path.read_text(encoding="utf-8") + "not json\n", encoding="utf-8")
    told: list[tuple[int, int, int, int]] = []
    summary = importing.import_observations(
        path,
        isolated / "p.duckdb",
        progress=lambda done, total, s: told.append((done, total, s.lines, s.rejects)),
        batch_lines=3,
        parallel=parallel,
    )
    size = path.stat().st_size
    assert [(total, lines) for _, total, lines, _ in told] == [(size, 3), (size, 6), (size, 8)]
    assert [done for done, *_ in told] == sorted({done for done, *_ in told}) and told[-1][0] == size
    assert told[-1][3] == summary.rejects == 1


def _paraphrases(n: int, seed: int) -> list[dict[str, Any]]:
    """Rewordings (dropped and added words) of a few base claims, triage and report."""
    rng = random.Random(seed)
    words = [f"w{i}" for i in range(400)]
    bases = [rng.sample(words, 14) for _ in range(n // 6)]
    rows = []
    for i in range(n):
        k = rng.randrange(len(bases))
        said = [w for w in bases[k] if rng.random() > 0.25] + rng.sample(words, rng.randint(0, 3))
        report = rng.random() < 0.5
        rows.append(
            _obs(
                " ".join(said) + f" by {k % 7 + 2}%",
                kind="topic_report" if report else "ref_triage",
                field_path="report.headline_claims" if report else None,
                topic=f"t{rng.randrange(3)}",
                source=f"p{i}",
            )
        )
    return rows


@pytest.mark.slow
def test_placement_does_not_depend_on_the_process_string_hash_seed(isolated: Path) -> None:
    """Sets iterate in an order that differs between processes: the merge must not."""
    rows = _write(isolated / "obs.jsonl", _paraphrases(3000, seed=11))
    placed = []
    for seed in ("1", "2"):
        db = isolated / f"seed{seed}.duckdb"
        subprocess.run(
            [sys.executable, "-m", "extract", "import", str(rows), "--db", str(db)],
            env={**os.environ, "PYTHONHASHSEED": seed},
            check=True,
            capture_output=True,
        )
        with duckdb.connect(str(db), read_only=True) as con:
            placed.append(con.execute("SELECT source, claim_id FROM observations ORDER BY source").fetchall())
    assert len({claim for _, claim in placed[0]}) < 2000  # rewordings merged
    assert placed[0] == placed[1]


def test_a_claims_text_and_domain_do_not_depend_on_ties(isolated: Path) -> None:
    """Imported rows share one timestamp and two domains are seen once each: the first
    observation by id gives the text, and the tie between domains goes to the first."""
    said = [A1 + " (data view)", A1 + " (arch view)", A1]
    rows = [_obs(text, camp=CAMP, domain=domain) for text, domain in zip(said, ["data", "arch", None], strict=True)]
    run_cli("import", str(_write(isolated / "obs.jsonl", rows)))
    with duckdb.connect(str(isolated / "claims.duckdb"), read_only=True) as con:
        first = con.execute("SELECT text FROM observations ORDER BY created_at, obs_id LIMIT 1").fetchone()
        claims = con.execute("SELECT text, domain, n_obs FROM claims").fetchall()
    assert first is not None
    assert claims == [(first[0], "arch", 3)]


class _RecordingStored(StoredIndex):
    """A stored index that records each observation's candidates (claim ids)."""

    seen: list[set[str]]

    def candidates(self, sig: Signature, block: tuple[str, str | None]) -> set[int]:
        found = super().candidates(sig, block)
        self.seen.append({self.claims[at].claim_id for at in found})
        return found


class _FullLoad(MemoryIndex):
    """Every stored claim read first, tokens ranked by its postings: what the stored
    index's reads as needed must reproduce."""

    seen: list[set[str]]

    def candidates(self, sig: Signature, block: tuple[str, str | None]) -> set[int]:
        found = super().candidates(sig, block)
        self.seen.append({self.claims[at].claim_id for at in found})
        return found


def _recording(db: Database, full: bool) -> tuple[Merger, list[set[str]]]:
    """A merger whose index records every observation's candidates, and that record."""
    merger = Merger(db)
    if full:
        rows = db.con.execute(f"SELECT {', '.join(INDEX_COLUMNS)} FROM claim_index ORDER BY claim_id").fetchall()
        weights = TokenWeights(n_claims=len(rows))
        weights.known(token_frequencies(db, sorted({t for r in rows for t in r[4]})))
        index: _FullLoad | _RecordingStored = _FullLoad(weights)
        for claim_id, scope, topic, camp, tokens, citations, numbers, n_obs in rows:
            index.hold(
                Claim(claim_id, scope, topic, camp, tuple(tokens), Facts.of(numbers), frozenset(citations), n_obs)
            )
    else:
        index = _RecordingStored(db, TokenWeights())
    index.seen = []
    merger.index = index
    return merger, index.seen


@pytest.mark.slow
def test_an_incremental_merge_reads_every_claim_a_full_load_would_make_a_candidate(isolated: Path) -> None:
    """A merger holding only some stored claims gives every observation the candidates
    (so the claims) of one holding them all, without reading claims while placing."""
    rows = _paraphrases(4000, seed=5)
    for i, row in enumerate(rows):
        if i % 5 == 0:
            row["citations"] = [f"10.1000/x{i % 13}"]
    _write(isolated / "base.jsonl", rows[:2500])
    more = _write(isolated / "more.jsonl", rows[2500:])
    db_path = isolated / "claims.duckdb"
    importing.import_observations(isolated / "base.jsonl", db_path)
    with open_database(db_path) as db:
        keys, arxiv = record_lookup(db)
        observations = [
            o for batch in import_batches(more, "r-test", keys, arxiv, size=500) for o in batch.observations
        ]
        (lazy, lazy_seen), (full, full_seen) = _recording(db, full=False), _recording(db, full=True)
        held = []
        for at in range(0, len(observations), 500):
            batch = observations[at : at + 500]
            assert [o.claim_id for o in lazy.assign(batch)] == [o.claim_id for o in full.assign(batch)]
            held.append(len(lazy.claims) < len(full.claims))
        stored = {r[0] for r in db.con.execute("SELECT claim_id FROM claim_index").fetchall()}
    assert lazy_seen == full_seen
    assert isinstance(lazy.index, StoredIndex) and lazy.index.late_reads == 0
    assert held[0]  # it did not simply read everything
    assert any(seen & stored for seen in lazy_seen)  # stored claims were candidates


def _imported(path: Path, db: Path, parallel: bool) -> tuple[Any, ...]:
    summary = importing.import_observations(path, db, parallel=parallel, batch_lines=97)
    with duckdb.connect(str(db), read_only=True) as con:
        placed = con.execute("SELECT obs_id, claim_id, text FROM observations ORDER BY obs_id").fetchall()
        index = con.execute("SELECT claim_id, tokens FROM claim_index ORDER BY claim_id").fetchall()
        rejects = con.execute("SELECT detail FROM rejects ORDER BY detail").fetchall()
    return summary.observations, summary.rejects, summary.claims, placed, index, rejects


def _reusing_file(isolated: Path) -> Path:
    """600 lines in batches of 97: one obs_id said with two contents in two batches, another
    twice in one batch (the second is a reject, and must not stand for the first), and a
    line that is not JSON."""
    rows = _paraphrases(600, seed=11)
    rows[5]["obs_id"] = rows[300]["obs_id"] = "o-00000000000a"
    rows[110]["obs_id"] = rows[150]["obs_id"] = "o-00000000000b"
    lines = [json.dumps(r) for r in rows]
    lines.insert(40, "not json")
    path = isolated / "big.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.slow
def test_a_file_read_in_a_second_process_imports_as_one_read_here(isolated: Path) -> None:
    """A large file is parsed (and what placing needs worked out) in another process,
    batch by batch ahead of the merge: the same observations, claims, claim index and
    rejects, and the settling of ids within and across batches, as reading it here."""
    path = _reusing_file(isolated)
    here = _imported(path, isolated / "here.duckdb", parallel=False)
    assert _imported(path, isolated / "there.duckdb", parallel=True) == here
    assert here[1] == 3 and len(here[3]) == 598
    kept = next(text for obs_id, _, text in here[3] if obs_id == "o-00000000000b")
    tokens = dict(here[4])[next(c for obs_id, c, _ in here[3] if obs_id == "o-00000000000b")]
    assert set(kept.split()[:3]) & set(tokens)  # placed by its own words


class _DyingPool:
    """A reading process that answers the first batch, dies on the second and is gone
    for the rest: what a worker killed for memory looks like."""

    def __init__(self, workers: int, mp_context: Any = None, initializer: Any = None, initargs: Any = ()) -> None:
        initializer(*initargs)
        self.calls = 0

    def __enter__(self) -> _DyingPool:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def submit(self, fn: Any, *args: Any) -> Future[Any]:
        self.calls += 1
        if self.calls > 2:
            raise BrokenProcessPool("gone")
        done: Future[Any] = Future()
        if self.calls == 1:
            done.set_result(fn(*args))
        else:
            done.set_exception(BrokenProcessPool("died"))
        return done


def test_a_reading_process_that_dies_leaves_the_rest_to_this_one(
    isolated: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    path = _reusing_file(isolated)
    here = _imported(path, isolated / "here.duckdb", parallel=False)
    monkeypatch.setattr(import_worker, "ProcessPoolExecutor", _DyingPool)
    assert _imported(path, isolated / "dying.duckdb", parallel=True) == here
    assert "the rest of the file is read here" in caplog.text
