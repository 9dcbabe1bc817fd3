"""Each id scheme, pinned: the expected ids are computed here with hashlib from the
documented recipes (README "Ids"), not with `extract.hashing`, so a change of scheme
(which would orphan every id already stored or exported) fails these tests.

Canonical JSON: sorted keys, no whitespace, UTF-8, no ASCII escaping."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import duckdb
import tiktoken

from extract.hashing import CLAIM_ID, OBS_ID, canonical_json, normalise_claim_text, short_id
from extract.models import ModelRequest
from extract.stages.chunk import OFFLINE_ENCODING, Tokenizer, chunk_record
from extract.stages.importing import import_batches
from extract.stages.ingest import ingest_file
from extract.stages.merge import Merger
from extract.store import open_database

from fake_openai import FakeOpenAI
from pipelines import chunk_data, run_cli, write_pipeline


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def test_canonical_json_is_sorted_compact_raw_utf8() -> None:
    value = {"b": [1, "ü中"], "a": {"y": None, "x": 1.5}}
    assert canonical_json(value) == '{"a":{"x":1.5,"y":null},"b":[1,"ü中"]}'
    # A known value: a prefix and the first hex digits of its SHA-256.
    assert short_id("k-", ["abc", 0, 10]) == "k-" + _sha('["abc",0,10]')[:12] == "k-4ed3e44c7f39"


def test_a_document_is_the_sha256_of_its_normalised_text(tmp_path: Path) -> None:
    # A BOM, CRLF line ends and a compatibility ligature: the id is of the text after
    # normalisation (no BOM, LF, NFKC), which is what every offset indexes.
    raw = "\ufeff# List\r\n\r\n## Paper A\r\nPaper A de\ufb01nes a new benchmark.\r\n".encode()
    path = tmp_path / "list.md"
    path.write_bytes(raw)
    doc = ingest_file(path).document
    assert doc.text == "# List\n\n## Paper A\nPaper A defines a new benchmark.\n"
    assert doc.sha256 == _sha(doc.text)
    assert doc.raw_sha256 == hashlib.sha256(raw).hexdigest()


def test_a_record_id_hashes_the_document_and_the_record_offsets(tmp_path: Path) -> None:
    path = tmp_path / "list.md"
    path.write_text("# List\n\n## Paper A\nA says one thing.\n\n## Paper B\nB says another.\n", encoding="utf-8")
    ingested = ingest_file(path)
    assert len(ingested.records) == 2
    for record in ingested.records:
        # The scheme the code uses: `doc_sha256:char_start:char_end`, not canonical JSON
        # (README "Ids" says `[doc sha256, char_start, char_end]` as for chunks).
        recipe = f"{record.doc_sha256}:{record.char_start}:{record.char_end}"
        assert record.record_id == "r-" + _sha(recipe)[:12]
        assert record.doc_sha256 == ingested.document.sha256


def test_a_chunk_id_hashes_the_document_and_the_chunk_offsets(tmp_path: Path) -> None:
    path = tmp_path / "list.md"
    path.write_text("## Paper A\n" + "Paper A finds that more data helps a lot. " * 60 + "\n", encoding="utf-8")
    ingested = ingest_file(path)
    [record] = ingested.records
    tokenizer = Tokenizer(OFFLINE_ENCODING, tiktoken.get_encoding(OFFLINE_ENCODING))
    chunks = chunk_record(ingested.document.text, record, tokenizer, 100, 10, 0)
    assert len(chunks) > 2
    for chunk in chunks:
        recipe = _canonical([ingested.document.sha256, chunk.char_start, chunk.char_end])
        assert chunk.chunk_id == "k-" + _sha(recipe)[:12]


def test_the_request_hash_is_of_the_prompt_hash_and_the_whole_body() -> None:
    request = ModelRequest(
        job="ref_triage",
        model="gpt-test",
        prompt_name="ref_triage",
        prompt_hash="p" * 64,
        messages=({"role": "system", "content": "Be exact."}, {"role": "user", "content": "数据"}),
        response_format={"type": "json_object"},
        params={"temperature": 0, "max_tokens": 512},
    )
    body = {
        "model": "gpt-test",
        "messages": [{"role": "system", "content": "Be exact."}, {"role": "user", "content": "数据"}],
        "temperature": 0,
        "max_tokens": 512,
        "response_format": {"type": "json_object"},
    }
    assert request.request_hash() == _sha(_canonical({"prompt_hash": "p" * 64, "body": body}))
    # The job and prompt name are not sent, so they are not hashed; the model is.
    assert replace(request, job="other", prompt_name="other").request_hash() == request.request_hash()
    assert replace(request, model="gpt-other").request_hash() != request.request_hash()


def _answer(request: dict[str, Any]) -> str:
    """Two claims: the first quotes nothing the chunk says (rejected), the second is grounded."""
    data = chunk_data(request)
    quote = "larger batches speed up training by 30%"
    assert quote in data
    claim = {
        "stance": "consensus",
        "domain": "training",
        "tags": ["batching"],
        "topic": None,
        "citations": [],
    }
    made_up = {**claim, "text": "Smaller batches always win.", "quote": "smaller batches always win every time"}
    grounded = {**claim, "text": "  Larger  BATCHES speed up training by 30%. ", "quote": quote}
    return json.dumps({"claims": [made_up, grounded]})


def _query(db: Path, sql: str) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_a_run_stores_every_id_by_its_recipe(isolated: Path) -> None:
    dumps = isolated / "dumps"
    dumps.mkdir()
    (dumps / "one.md").write_text(
        "# List\n\n## Paper A\nPaper A shows that larger batches speed up training by 30% on GPUs.\n", encoding="utf-8"
    )
    with FakeOpenAI(_answer) as server:
        pipeline = write_pipeline(isolated, inputs=[dumps], base_url=server.base_url)
        result = run_cli("run", str(pipeline))
    assert "done_with_rejects" in result.output  # the made-up quote
    db = isolated / "claims.duckdb"

    [(doc_sha, text)] = _query(db, "SELECT sha256, text FROM documents")
    assert doc_sha == _sha(text)
    [(record_id, r_start, r_end)] = _query(db, "SELECT record_id, char_start, char_end FROM records")
    assert record_id == "r-" + _sha(f"{doc_sha}:{r_start}:{r_end}")[:12]
    [(chunk_id, c_start, c_end)] = _query(db, "SELECT chunk_id, char_start, char_end FROM chunks")
    assert chunk_id == "k-" + _sha(_canonical([doc_sha, c_start, c_end]))[:12]

    [(request_hash, prompt_hash, request_json)] = _query(
        db, "SELECT request_hash, prompt_hash, request_json FROM responses"
    )
    assert request_hash == _sha(_canonical({"prompt_hash": prompt_hash, "body": json.loads(request_json)}))
    prompt = (Path(__file__).resolve().parent.parent / "prompts" / "ref_triage.md").read_text(encoding="utf-8")
    assert prompt_hash == _sha(prompt)  # prompts are versioned by the SHA-256 of their file

    [(obs_id, claim_id, obs_text, obs_request, obs_chunk)] = _query(
        db, "SELECT obs_id, claim_id, text, request_hash, chunk_id FROM observations"
    )
    assert (obs_request, obs_chunk) == (request_hash, chunk_id)
    # The kept claim is the answer's second (index 1): the index counts rejected claims too.
    assert obs_id == "o-" + _sha(_canonical([request_hash, 1, chunk_id]))[:12]
    assert obs_text == "Larger  BATCHES speed up training by 30%."
    # The claim id: normalised text (NFKC, casefold, whitespace collapsed, edge
    # punctuation stripped), scope `triage`, no topic for triage claims, n = 0.
    assert claim_id == "c-" + _sha(_canonical(["larger batches speed up training by 30%", "triage", None, 0]))[:10]
    assert _query(db, "SELECT claim_id FROM claims") == [(claim_id,)]


def _import_line(text: str, **extra: Any) -> dict[str, Any]:
    return {
        "text": text,
        "stance": "contested",
        "kind": "topic_report",
        "topic": "tokenizer-scaling",
        "field_path": "report.headline_claims",
        "model": "gpt-x",
        "quote": text,
        **extra,
    }


def test_imported_observation_and_claim_ids(tmp_path: Path) -> None:
    lines = [
        # Keys in any order and spacing: the id is of the canonical line.
        json.dumps(_import_line("Vocab 128K beats 32K.", source="s0", camp="expansion"), indent=1),
        json.dumps(_import_line("Vocab 128K beats 32K.", source="s1", camp="restraint")),
        json.dumps(_import_line("Tokenizers matter.", kind="ref_triage", field_path=None, source="s2")),
    ]
    lines[0] = lines[0].replace("\n", "")  # one line, still not canonical
    source = tmp_path / "rows.jsonl"
    source.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    with open_database(tmp_path / "claims.duckdb") as db:
        observations = [o for batch in import_batches(source, "r-test", {}, {}, db=db) for o in batch.observations]
        placed = {o.source: o for o in Merger(db).assign(observations)}

    for line, o in zip(lines, (placed["s0"], placed["s1"], placed["s2"]), strict=True):
        # `o-` + 12 hex of ["import", the canonical JSON text of the line].
        assert o.obs_id == "o-" + _sha(_canonical(["import", _canonical(json.loads(line))]))[:12]
        assert OBS_ID.fullmatch(o.obs_id) and CLAIM_ID.fullmatch(o.claim_id)
    # A report statement's scope is its field path and its topic counts.
    first = ["vocab 128k beats 32k", "report.headline_claims", "tokenizer-scaling"]
    # The same words in another camp stay apart: the id of n = 0 is taken by the one
    # placed first (in obs id order), so the other's has n = 1.
    assert {placed["s0"].claim_id, placed["s1"].claim_id} == {
        "c-" + _sha(_canonical([*first, 0]))[:10],
        "c-" + _sha(_canonical([*first, 1]))[:10],
    }
    # A triage claim: scope `triage`, and no topic.
    assert placed["s2"].claim_id == "c-" + _sha(_canonical(["tokenizers matter", "triage", None, 0]))[:10]


def test_normalised_claim_text() -> None:
    assert normalise_claim_text("  “ＧＰＴ－４\tBEATS\n\nGPT-3.5” (Straße). ") == "gpt-4 beats gpt-3.5” (strasse"
    assert normalise_claim_text("该方法提升了１２％。") == "该方法提升了12%"
