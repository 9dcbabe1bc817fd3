"""Ingest stage: decoding, normalisation, rendering, record splitting and metadata."""

from __future__ import annotations

import hashlib
import json
import random
import time
import unicodedata
from pathlib import Path

import pytest

from extract.errors import SkippedInput
from extract.stages.ingest import (
    IngestedDocument,
    arxiv_ids,
    citation_key,
    ingest_file,
    normalise_text,
    split_records,
    urls,
)

AWESOME = "dump_awesome_papers_zh.md"
READING = "dump_reading_list_en.txt"
DIGEST = "dump_digest_zh.txt"
THREAD = "dump_thread_nl.txt"
SEED_COUNTS = {AWESOME: 67, READING: 55, DIGEST: 24, THREAD: 1}


def _texts(doc: IngestedDocument) -> list[str]:
    text = doc.document.text
    return [text[r.char_start : r.char_end] for r in doc.records]


def _write(tmp_path: Path, name: str, data: bytes | str) -> Path:
    path = tmp_path / name
    if isinstance(data, str):
        path.write_text(data, encoding="utf-8", newline="")
    else:
        path.write_bytes(data)
    return path


@pytest.fixture(scope="module")
def seeds(seeds_dir: Path) -> dict[str, IngestedDocument]:
    return {name: ingest_file(seeds_dir / name) for name in SEED_COUNTS}


# ---------------------------------------------------------------- seed dumps


@pytest.mark.parametrize(("name", "expected"), sorted(SEED_COUNTS.items()))
def test_seed_record_counts(seeds: dict[str, IngestedDocument], name: str, expected: int) -> None:
    assert len(seeds[name].records) == expected


@pytest.mark.parametrize("name", sorted(SEED_COUNTS))
def test_seed_offsets_are_ordered_disjoint_and_trimmed(seeds: dict[str, IngestedDocument], name: str) -> None:
    doc = seeds[name]
    text = doc.document.text
    previous_end = 0
    for idx, record in enumerate(doc.records):
        body = text[record.char_start : record.char_end]
        assert record.idx == idx
        assert body and body == body.strip()
        assert record.char_start >= previous_end
        assert record.doc_sha256 == doc.document.sha256
        expected_id = hashlib.sha256(
            f"{doc.document.sha256}:{record.char_start}:{record.char_end}".encode()
        ).hexdigest()[:12]
        assert record.record_id == "r-" + expected_id
        previous_end = record.char_end
    assert doc.document.sha256 == hashlib.sha256(text.encode("utf-8")).hexdigest()
    assert doc.warnings == []


def test_awesome_list_records_are_level_two_headings(
    seeds: dict[str, IngestedDocument],
) -> None:
    doc = seeds[AWESOME]
    titles = [r.title for r in doc.records]
    assert titles[0] == "Metis-HOME"
    assert titles[-1] == "Expected Attention"
    assert "开源模型 IOI金牌" in titles  # written `##开源模型` without a space
    assert "UltraAttn" in titles  # trailing space trimmed
    assert "AwesomePaper-for-AI" not in titles
    texts = _texts(doc)
    assert texts[0].startswith("## Metis-HOME\n")
    assert all("Awesome system papers for AI" not in t for t in texts)
    assert doc.records[0].arxiv_ids == ("2510.20519",)
    assert doc.records[0].citation_key == "Metis2025Home"
    assert doc.document.fmt == "md"
    assert doc.document.encoding == "utf-8"


def test_reading_list_one_record_per_paper(seeds: dict[str, IngestedDocument]) -> None:
    doc = seeds[READING]
    titles = [r.title for r in doc.records]
    texts = _texts(doc)
    assert titles[0] == "LIMI: Less is More for Agency"
    assert titles[-2] == "Inside vLLM: Anatomy of a High-Throughput LLM Inference System"
    assert titles[-1] == "Things I’m Learning While Training SuperHOT"
    assert all("apaz's Reading List" not in t for t in texts)
    assert doc.records[0].citation_key == "Limi2025Less"
    assert doc.records[-2].urls == ("https://www.aleksagordic.com/blog/vllm",)
    assert doc.records[-2].arxiv_ids == ()


def test_reading_list_orphan_notes_stay_with_previous_paper(
    seeds: dict[str, IngestedDocument],
) -> None:
    doc = seeds[READING]
    texts = _texts(doc)
    qsgd = next(i for i, r in enumerate(doc.records) if r.title.startswith("QSGD:"))
    assert texts[qsgd].count("\nNotes\n") == 4
    assert "async tensor parallelism" in texts[qsgd]
    assert texts[qsgd + 1].startswith("Inside vLLM")
    # No text between the first and last record is lost.
    text = doc.document.text
    covered = "".join(texts)
    between = text[doc.records[0].char_start : doc.records[-1].char_end]
    assert "".join(between.split()) == "".join(covered.split())


def test_reading_list_www_pdf_url_gives_arxiv_id(
    seeds: dict[str, IngestedDocument],
) -> None:
    doc = seeds[READING]
    hits = [r for r, t in zip(doc.records, _texts(doc), strict=True) if "https://www.arxiv.org/pdf/2508.21038" in t]
    assert len(hits) == 1
    assert hits[0].arxiv_ids == ("2508.21038",)


def test_digest_items_and_code_comments(seeds: dict[str, IngestedDocument]) -> None:
    doc = seeds[DIGEST]
    titles = [r.title for r in doc.records]
    texts = _texts(doc)
    assert titles[0] == "PHYBench"
    assert titles[-1] == "Attention is all you need"
    assert "注意力黑洞" in titles and "Mona" in titles
    assert all(t.startswith("#") and not t.startswith(("# ", "##")) for t in texts)
    # `# comments` inside the unfenced Python do not start records.
    sink = texts[titles.index("注意力黑洞")]
    assert "# 1. 实现带注意力黑洞的Transformer层" in sink
    assert "# 6. 主执行函数" in sink
    mona = texts[titles.index("Mona")]
    assert "# ------------------------------ Mona 模块" in mona
    assert not any(title.startswith(("=", "-", " ")) for title in titles)
    # No separators, preamble or page chrome inside records.
    assert all("\n....\n" not in t and not t.endswith("....") for t in texts)
    assert all("更多推荐" not in t and "所有评论" not in t for t in texts)
    assert all("51c大模型~合集122" not in t for t in texts)


def test_thread_body_without_chrome(seeds: dict[str, IngestedDocument]) -> None:
    (body,) = _texts(seeds[THREAD])
    assert body.startswith("Het technische rapport van @Meituan_LongCat")
    assert body.endswith("> Lijst van de verschillende relevante papers in de thread 🧵")
    for chrome in ("Populaire onderwerpen", "Boop.Fun", "191,17K", "Boven", "Favorieten"):
        assert chrome not in body
    assert seeds[THREAD].records[0].title.startswith("Het technische rapport")
    assert len(seeds[THREAD].records[0].title) <= 120


def test_citation_keys_unique_and_stable(seeds_dir: Path) -> None:
    taken: set[str] = set()
    first = [ingest_file(seeds_dir / n, taken_keys=taken) for n in SEED_COUNTS]
    keys = {r.record_id: r.citation_key for d in first for r in d.records}
    assert len(keys) == sum(SEED_COUNTS.values())
    assert len(set(keys.values())) == len(keys)
    assert taken == set(keys.values())
    # Re-ingest in another order: stored keys are reused, nothing new is minted.
    taken_again = set(keys.values())
    again = [ingest_file(seeds_dir / n, existing_keys=keys, taken_keys=taken_again) for n in reversed(SEED_COUNTS)]
    assert {r.record_id: r.citation_key for d in again for r in d.records} == keys
    assert taken_again == set(keys.values())


def test_citation_key_ranks_kept_across_files_change_no_key(tmp_path: Path) -> None:
    # Many files sharing titles (versions of one dump): the ranks kept with the taken
    # keys skip suffixes known taken, and every key is the one found without them.
    paths = [
        _write(tmp_path, f"v{i}.txt", f"v{i}\n\n" + "Same Title\nhttps://arxiv.org/abs/2402.01035\n\n" * 5)
        for i in range(40)
    ]
    plain: set[str] = set()
    kept: set[str] = set()
    ranks: dict[str, int] = {}
    for path in paths:
        one = ingest_file(path, taken_keys=plain)
        two = ingest_file(path, taken_keys=kept, key_ranks=ranks)
        assert [r.citation_key for r in one.records] == [r.citation_key for r in two.records]
    assert plain == kept and len(kept) == 40 * 5 == ranks["Same2024Title"]


def test_citation_keys_without_shared_set_are_deterministic(seeds_dir: Path) -> None:
    one = ingest_file(seeds_dir / AWESOME)
    two = ingest_file(seeds_dir / AWESOME)
    assert [r.citation_key for r in one.records] == [r.citation_key for r in two.records]
    assert len({r.citation_key for r in one.records}) == len(one.records)


# ---------------------------------------------------------------- metadata


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("https://arxiv.org/abs/2402.01035", ("2402.01035",)),
        ("https://arxiv.org/abs/2402.01035v3 and again arxiv.org/abs/2402.01035", ("2402.01035",)),
        ("https://arxiv.org/pdf/2402.01035v2.pdf", ("2402.01035",)),
        ("https://arxiv.org/pdf/2402.01035", ("2402.01035",)),
        ("http://www.arxiv.org/abs/2509.02046.", ("2509.02046",)),
        ("https://export.arxiv.org/abs/2301.12345", ("2301.12345",)),
        ("https://arxiv.org/html/2510.00977v1", ("2510.00977",)),
        ("see https://huggingface.co/papers/2501.00001", ("2501.00001",)),
        ("https://www.alphaxiv.org/abs/2502.10517", ("2502.10517",)),
        ("(arXiv:2402.01035v2)", ("2402.01035",)),
        ("arXiv 2402.01035 then ARXIV: 1610.02132", ("2402.01035", "1610.02132")),
        ("https://arxiv.org/abs/hep-th/9901001v1", ("hep-th/9901001",)),
        ("arXiv:math.GT/0309136", ("math.GT/0309136",)),
        ("https://arxiv.org/abs/0704.0001", ("0704.0001",)),
    ],
)
def test_arxiv_id_forms(text: str, expected: tuple[str, ...]) -> None:
    assert arxiv_ids(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "released 2025.11.25 by the team",
        "a bare 2402.01035 without context",
        "version 1.2345 and 12345.67890",
        "https://example.org/abs/2402.01035",
        "https://arxiv.org/abs/2413.01035",  # month 13
    ],
)
def test_numbers_without_arxiv_context_are_ignored(text: str) -> None:
    assert arxiv_ids(text) == ()


def test_arxiv_ids_keep_first_seen_order() -> None:
    text = "arXiv:2502.00001 https://arxiv.org/abs/2401.00002 arxiv.org/pdf/2502.00001v2"
    assert arxiv_ids(text) == ("2502.00001", "2401.00002")


def test_urls_are_cleaned_and_deduplicated() -> None:
    text = (
        "See (https://a.org/x). Also [link](https://b.org/y_(z)) and "
        '"https://c.org/q?a=1&b=2", https://a.org/x, <https://d.org/> '
        "https://e.org/页面 `https://f.org/g`"
    )
    assert urls(text) == (
        "https://a.org/x",
        "https://b.org/y_(z)",
        "https://c.org/q?a=1&b=2",
        "https://d.org/",
        "https://e.org/",
        "https://f.org/g",
    )
    assert urls("this https URL and http:// alone") == ()


def test_citation_key_rules() -> None:
    assert citation_key("LIMI: Less is More for Agency", ("2509.17567",), "", set()) == ("Limi2025Less")
    assert citation_key("The Art of Scaling", (), "published in 2019.", set()) == ("Art2019Scaling")
    assert citation_key("On the Web", (), "no year here", set()) == "Webnd"
    assert citation_key("Old", ("hep-th/9901001",), "", set()) == "Old1999"
    taken = {"Limi2025Less", "Limi2025Lessa"}
    assert citation_key("LIMI: Less", ("2509.17567",), "", taken) == "Limi2025Lessb"
    chinese = citation_key("多轮迷失", ("2505.06120",), "", set())
    assert chinese == citation_key("多轮迷失", ("2505.06120",), "", set())
    assert chinese.startswith("Rec") and chinese.endswith("2025")
    assert chinese != citation_key("混合架构", ("2505.06120",), "", set())
    assert chinese.isascii() and chinese.isalnum()


# ---------------------------------------------------------------- decoding


SAMPLE = "# 标题\n研究表明:模型在 GSM8K 上提升 5%。arXiv:2402.01035\n第二段 αβ,完。\n"


@pytest.mark.parametrize(
    ("encoding", "prefix", "reported"),
    [
        ("utf-8", b"", "utf-8"),
        ("utf-8", b"\xef\xbb\xbf", "utf-8-sig"),
        ("utf-16-le", b"\xff\xfe", "utf-16-le"),
        ("utf-16-be", b"\xfe\xff", "utf-16-be"),
        ("utf-32-le", b"\xff\xfe\x00\x00", "utf-32-le"),
        ("gb18030", b"", "gb18030"),
    ],
)
def test_encodings_decode_to_the_same_text(tmp_path: Path, encoding: str, prefix: bytes, reported: str) -> None:
    reference = ingest_file(_write(tmp_path, "ref.txt", SAMPLE))
    data = prefix + SAMPLE.encode(encoding)
    doc = ingest_file(_write(tmp_path, "x.txt", data))
    assert doc.document.encoding == reported
    assert doc.document.text == reference.document.text
    assert doc.document.sha256 == reference.document.sha256
    assert doc.document.raw_sha256 == hashlib.sha256(data).hexdigest()
    assert not doc.document.text.startswith("\ufeff")
    assert doc.records[0].arxiv_ids == ("2402.01035",)


def test_utf16_without_bom_is_detected(tmp_path: Path) -> None:
    text = "Plain English notes about arXiv:2402.01035 and more text.\n"
    doc = ingest_file(_write(tmp_path, "x.txt", text.encode("utf-16-le")))
    assert doc.document.encoding == "utf-16-le"
    assert doc.document.text == text


@pytest.mark.parametrize(
    ("name", "data", "kind"),
    [
        ("a.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00" * 20, "binary"),
        ("b.md", bytes(range(1, 9)) * 50 + b"some text", "binary"),
        ("c.txt", b"", "empty"),
        ("d.txt", b"  \r\n\t \n\n   ", "empty"),
        ("e.txt", "café crème brûlée\n".encode("cp1252") * 3, "undecodable"),
        ("f.pdf", b"%PDF-1.4 text", "unsupported"),
        ("g", b"text", "unsupported"),
        ("h.html", b"<html><head><title>x</title></head><script>x</script></html>", "empty"),
        ("i.jsonl", b'{"title": "no text"}\nnot json\n', "empty"),
    ],
)
def test_bad_inputs_are_skipped_with_kind(tmp_path: Path, name: str, data: bytes, kind: str) -> None:
    path = _write(tmp_path, name, data)
    with pytest.raises(SkippedInput) as info:
        ingest_file(path)
    assert info.value.kind == kind
    assert info.value.path == str(path)
    assert info.value.detail


def test_five_megabyte_single_line_is_fast(tmp_path: Path) -> None:
    unit = "Scaling laws hold for ＬＬＭｓ，研究表明 <|endoftext|> results. "
    line = unit * (5_000_000 // len(unit.encode("utf-8")) + 1)
    path = _write(tmp_path, "big.txt", line)
    assert path.stat().st_size >= 5_000_000
    started = time.perf_counter()
    doc = ingest_file(path)
    elapsed = time.perf_counter() - started
    assert elapsed < 3.0, f"5 MB line took {elapsed:.2f}s"
    (record,) = doc.records
    assert record.char_start == 0
    assert record.char_end == len(doc.document.text.rstrip())
    assert "LLMs," in doc.document.text[:200]


def test_nfkc_and_line_endings(tmp_path: Path) -> None:
    raw = "ﬁne Ｆｕｌｌ　ｗｉｄｔｈ ①\r\nsecond\rthird\r\n"
    doc = ingest_file(_write(tmp_path, "n.txt", raw))
    assert doc.document.text == "fine Full width 1\nsecond\nthird\n"
    assert "\r" not in doc.document.text


def test_nfkc_line_by_line_is_nfkc_of_the_whole_text(seeds_dir: Path) -> None:
    # Normalising only the lines that need it, full-width punctuation first, gives what
    # normalising the whole text gives: on the seeds, and on lines built from characters
    # that compose, reorder or decompose next to each other and to newlines.
    for path in sorted(seeds_dir.iterdir()):
        text = path.read_text(encoding="utf-8")
        assert normalise_text(text) == unicodedata.normalize("NFKC", text), path.name
    rng = random.Random(5)
    pool = ["\n", "a", "e", "<", "=", "\u0301", "\u0327", "\u0338", "\u0345", "\u05b0", "\u0591", "\u3099", "\uff9e"]
    pool += ["\u1100", "\u1161", "\u11a8", "가", "か", "ｶ", "ﬁ", "①", "Ⅻ", "Å", "\u212b", "\u0f73", "\u0f71\u0f72"]
    pool += ["，", "（", "＜", "＝", "\u3000", "\xa0", "…", "\u2011", "𝑛", " ", "\u2028", "中"]
    for _ in range(20_000):
        text = "".join(rng.choice(pool) for _ in range(rng.randint(1, 12)))
        assert normalise_text(text) == unicodedata.normalize("NFKC", text), repr(text)


@pytest.mark.parametrize("suffix", [".txt", ".md"])
def test_special_tokens_are_plain_text(tmp_path: Path, suffix: str) -> None:
    raw = "Model output ends with <|endoftext|> or <eos> and <|im_start|>.\n"
    doc = ingest_file(_write(tmp_path, "s" + suffix, raw))
    (body,) = _texts(doc)
    assert body == raw.strip()


# ---------------------------------------------------------------- rendering


HTML = """<!DOCTYPE html>
<html><head><title>Page title</title><style>.x { color: red }</style></head>
<body>
<nav><a href="/">Home</a> | <a href="/about">About</a></nav>
<h1>Reading &amp; notes</h1>
<p>Intro paragraph.</p>
<h2>First paper</h2>
<p>Read <a href="https://arxiv.org/abs/2402.01035v2">the paper</a> now.
Tokens: &lt;|endoftext|&gt; and <eos>.</p>
<script>var secret = "SCRIPT CONTENT";</script>
<h2>Second paper</h2>
<ul><li>point one</li><li>point two</li></ul>
<h3>Details</h3><p>Deeper heading stays inside.</p>
<footer>Copyright footer</footer>
</body></html>
"""


def test_html_headings_become_records(tmp_path: Path) -> None:
    doc = ingest_file(_write(tmp_path, "page.html", HTML))
    text = doc.document.text
    assert doc.document.fmt == "html"
    for dropped in ("SCRIPT CONTENT", "color: red", "Page title", "Home", "Copyright"):
        assert dropped not in text
    assert [r.title for r in doc.records] == ["First paper", "Second paper"]
    first, second = _texts(doc)
    assert first.startswith("## First paper")
    assert "(https://arxiv.org/abs/2402.01035v2)" in first
    assert "<|endoftext|>" in first and "<eos>" in first
    assert doc.records[0].arxiv_ids == ("2402.01035",)
    assert "- point one\n- point two" in second
    assert "### Details" in second
    assert "Reading & notes" in text


def test_jsonl_custom_field_and_bad_lines(tmp_path: Path) -> None:
    rows = [
        json.dumps({"body": "First abstract.\r\nSee arXiv:2402.01035.", "title": "Paper A"}),
        "{not valid json",
        json.dumps({"title": "missing body"}),
        "",
        json.dumps({"body": "Second abstract without title, 2023."}),
        json.dumps(["not", "an", "object"]),
    ]
    path = _write(tmp_path, "x.jsonl", "\n".join(rows) + "\n")
    doc = ingest_file(path, jsonl_text_field="body")
    assert doc.document.fmt == "jsonl"
    assert _texts(doc) == [
        "Paper A\nFirst abstract.\nSee arXiv:2402.01035.",
        "Second abstract without title, 2023.",
    ]
    assert doc.document.text == "\n\n".join(_texts(doc))
    assert [r.title for r in doc.records] == [
        "Paper A",
        "Second abstract without title, 2023.",
    ]
    assert doc.records[0].arxiv_ids == ("2402.01035",)
    assert len(doc.warnings) == 3
    assert doc.warnings[0].startswith("line 2:")
    assert any("line 3:" in w and "'body'" in w for w in doc.warnings)
    assert doc.warnings[2].startswith("line 6:")


def test_jsonl_escapes_cannot_smuggle_unencodable_text(tmp_path: Path) -> None:
    path = _write(tmp_path, "x.jsonl", '{"text": "lone \\ud800 surrogate and \\u0000 nul"}\n')
    doc = ingest_file(path)
    assert doc.document.text == "lone \ufffd surrogate and \ufffd nul"
    doc.document.text.encode("utf-8")


# ---------------------------------------------------------------- splitting


def test_markdown_fences_and_deeper_headings() -> None:
    text = (
        "# Title\nintro\n\n## A\nalpha\n### a.1\nmore\n```\n## not a heading\n```\n"
        "## B\nbeta\n~~~python\n# comment\n~~~\n"
    )
    spans = split_records(text, "md")
    assert [s.title for s in spans] == ["A", "B"]
    assert "## not a heading" in text[spans[0].char_start : spans[0].char_end]
    assert text[spans[1].char_start : spans[1].char_end].endswith("~~~")


def test_txt_separator_style_is_detected_generally() -> None:
    text = "preamble\n#One\nbody one\n# code comment\n....\n#Two\nbody two\n....\nFooter\n"
    spans = split_records(text, "txt")
    assert [s.title for s in spans] == ["One", "Two"]
    assert "# code comment" in text[spans[0].char_start : spans[0].char_end]
    # A `# comment` line is never an item title, even as the first `#` line of a block.
    text = "#One\nbody\n....\n# note: not a title\n#Two\nbody two\n....\n#Three\nx\n"
    assert [s.title for s in split_records(text, "txt")] == ["One", "Two", "Three"]


def test_text_without_structure_is_one_record() -> None:
    text = "\n\nJust a paragraph of text. Nothing else.\n\n"
    (span,) = split_records(text, "txt")
    assert text[span.char_start : span.char_end] == "Just a paragraph of text. Nothing else."
    only_chrome = "Menu\nHome\n"
    (span,) = split_records(only_chrome, "md")
    assert only_chrome[span.char_start : span.char_end] == "Menu\nHome"
    assert split_records("  \n ", "txt") == []


# ---------------------------------------------------------------- adversarial input


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("spaces.md", "# a" + " " * 1_000_000 + "b\n## c\n## d\n"),
        ("lines.txt", "a\n" * 1_000_000),
        ("arxiv.txt", "arxiv" + " " * 1_000_000 + "arxiv" * 200_000),
        ("parens.txt", "https://a.org/" + ")" * 500_000),
        ("tags.html", "<a" * 300_000),
        ("comments.html", "<!--" * 300_000),
    ],
)
def test_adversarial_inputs_stay_linear(tmp_path: Path, name: str, text: str) -> None:
    path = _write(tmp_path, name, text)
    started = time.perf_counter()
    doc = ingest_file(path)
    assert time.perf_counter() - started < 5.0
    assert doc.records


def test_many_records_sharing_a_key_stay_fast(tmp_path: Path) -> None:
    block = "Same Title\nhttps://arxiv.org/abs/2402.01035\nBody.\n\n"
    path = _write(tmp_path, "same.txt", block * 10_000)
    started = time.perf_counter()
    doc = ingest_file(path)
    assert time.perf_counter() - started < 5.0
    keys = [r.citation_key for r in doc.records]
    assert len(keys) == 10_000 == len(set(keys))
    assert keys[:3] == ["Same2024Title", "Same2024Titlea", "Same2024Titleb"]
    assert keys[27] == "Same2024Titleaa"
