"""`extract init`: a starter pipeline for a folder of dumps, with topics from their headings."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

from extract.config import DEFAULT_DOMAINS, load_pipeline
from extract.stages.ingest import ingest_file
from extract.stages.starter_topics import MIN_TITLES, starter_topics

from pipelines import run_cli

SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")

HEADINGS = {
    "attention.md": [
        "Sparse Attention for Long Documents",
        "Sparse attention kernels on GPUs",
        "A study of sparse attention at scale",
    ],
    "decoding.md": [
        "Speculative Decoding with a Draft Model",
        "Speculative decoding for code",
        "KV-Cache compression",
        "KV cache eviction policies",
    ],
    "notes.txt": ["The routing of tokens", "Routing collapse in practice"],
}


def _write_dumps(folder: Path) -> Path:
    """Small dumps whose headings share terms: sparse attention, speculative decoding, KV cache, routing."""
    folder.mkdir()
    for name, headings in HEADINGS.items():
        marker = "##" if name.endswith(".md") else "#"
        items = [
            f"{marker} {h}\nThe method in {h.lower()} improves throughput by {i + 2}x.\n"
            for i, h in enumerate(headings)
        ]
        (folder / name).write_text("\n".join(items), encoding="utf-8")
    return folder


def test_init_writes_a_starter_that_loads_and_runs_offline(isolated: Path) -> None:
    dumps = _write_dumps(isolated / "dumps")
    result = run_cli("init", "dumps")
    assert result.exit_code == 0, result.output
    target = isolated / "extract.toml"
    assert result.stdout.splitlines() == [
        "wrote extract.toml: 3 document(s), 9 record(s), 4 topic(s)"
        " (sparse-attention, kv-cache, speculative-decoding, routing)",
        "next: extract run extract.toml",
    ]
    pipeline = load_pipeline(target)
    assert pipeline.inputs == [dumps]
    assert pipeline.model.name == "heuristic" and pipeline.model.response_format == "auto"
    assert [(d.slug, d.description, d.keywords) for d in pipeline.domains] == [
        (d.slug, d.description, [k for k in d.keywords if k]) for d in DEFAULT_DOMAINS
    ]
    topics = {t.slug: t for t in pipeline.topics}
    assert topics["kv-cache"].keywords == ["kv cache", "kv-cache", "kvcache"]
    assert topics["speculative-decoding"].title == "Speculative Decoding"
    assert topics["routing"].keywords == ["routing"]
    text = target.read_text(encoding="utf-8")
    for section in ("[pipeline]", "[model]", "[chunking]", "[extract]", "[report]", "[[taxonomy.domains]]"):
        before = text.split(section, 1)[0].rstrip("\n").splitlines()
        assert before[-1].startswith("#"), f"{section} has no comment above it"

    ran = run_cli("run", "extract.toml", "--model", "heuristic", "--json")
    assert ran.exit_code == 0, ran.output
    summary = json.loads(ran.stdout)
    assert summary["documents"] == 3 and summary["records"] == 9
    claims = json.loads(run_cli("claims", "--topic", "speculative-decoding", "--json").stdout)
    assert claims and all("speculative" in c["text"].lower() for c in claims)


def test_init_never_writes_over_a_file(isolated: Path) -> None:
    _write_dumps(isolated / "dumps")
    target = isolated / "extract.toml"
    target.write_text("# mine\n", encoding="utf-8")
    refused = run_cli("init", "dumps")
    assert refused.exit_code == 2 and refused.stdout == ""
    assert refused.stderr == (
        "error: extract.toml exists; init never writes over a file (name another with --out FILE.toml)\n"
    )
    assert target.read_text(encoding="utf-8") == "# mine\n"
    elsewhere = run_cli("init", str(isolated / "dumps"), "--out", "papers.toml")
    assert elsewhere.exit_code == 0 and elsewhere.stdout.endswith("next: extract run papers.toml\n")
    again = run_cli("init", "dumps", "--out", "papers.toml")
    assert again.exit_code == 2 and again.stderr.startswith("error: papers.toml exists; init never writes over")
    assert load_pipeline(isolated / "papers.toml").topics


def test_init_skips_bad_files_as_a_run_does_and_needs_one_readable_dump(isolated: Path) -> None:
    dumps = _write_dumps(isolated / "dumps")
    (dumps / "binary.txt").write_bytes(bytes(range(256)) * 40)
    (dumps / "empty.md").write_bytes(b"")
    result = run_cli("init", "dumps")
    assert result.exit_code == 0
    assert result.stdout.startswith("wrote extract.toml: 3 document(s), 9 record(s), 4 topic(s)")
    warnings = result.stderr.splitlines()
    assert len(warnings) == 2 and all(w.startswith("warning: skipped dumps/") for w in warnings)
    assert "binary.txt: binary" in warnings[0] and "empty.md: empty" in warnings[1]

    bad = isolated / "bad"
    bad.mkdir()
    (bad / "empty.md").write_bytes(b"")
    nothing = run_cli("init", "bad", "--out", "bad.toml")
    assert nothing.exit_code == 2 and nothing.stderr.splitlines()[-1] == (
        "error: no dump in bad could be read (1 file(s) skipped)"
    )
    assert not (isolated / "bad.toml").exists()
    missing = run_cli("init", "nowhere", "--out", "x.toml")
    assert missing.exit_code == 2 and missing.stderr == "error: not a directory: nowhere\n"


def test_init_without_recurring_headings_writes_no_topic_but_an_example(isolated: Path) -> None:
    folder = isolated / "one"
    folder.mkdir()
    (folder / "a.md").write_text("## Alpha\nIt is 2x faster.\n\n## Beta\nIt uses 3x less memory.\n")
    result = run_cli("init", "one")
    assert result.exit_code == 0 and "0 topic(s) (none recur in the titles; add your own)" in result.stdout
    text = (isolated / "extract.toml").read_text(encoding="utf-8")
    assert "# [[topics]]" in text and tomllib.loads(text).get("topics") is None
    assert run_cli("run", "extract.toml").exit_code == 0


def test_topics_fold_spellings_and_leave_out_function_and_generic_words() -> None:
    titles = [
        "KV-Cache Compression for Language Models",
        "KV cache eviction: a study",
        "Efficient kv caches",
        "Scaling Laws for Data",
        "Scaling laws of the model",
        "Scaling the model",
        "Large Language Models are few-shot learners",
        "Large language models for code",
    ]
    topics = starter_topics(titles)
    # `scaling` is mostly said within `scaling laws`, `law` always: the phrase is the topic.
    assert [(t.slug, t.title, t.titles) for t in topics] == [
        ("kv-cache", "KV cache", 3),
        ("scaling-laws", "Scaling Laws", 2),
    ]
    assert topics[0].keywords == ("kv cache", "kv-cache", "kvcache")
    assert topics[0].examples == ("KV-Cache Compression for Language Models", "KV cache eviction: a study")
    shuffled = starter_topics(titles[::-1])
    assert [(t.slug, t.keywords, t.titles) for t in shuffled] == [(t.slug, t.keywords, t.titles) for t in topics]
    assert starter_topics(titles, limit=1) == topics[:1]
    assert starter_topics(["Routing collapse", "Sparse attention", "The model"]) == []  # no term in 2 titles


def test_cjk_terms_are_the_longest_shared_runs_with_ascii_slugs() -> None:
    titles = ["长上下文推理", "长上下文的代价", "稀疏注意力", "稀疏注意力内核", "Long context at scale"]
    assert [(t.slug, t.title, t.keywords, t.titles) for t in starter_topics(titles)] == [
        ("topic-1", "稀疏注意力", ("稀疏注意力",), 2),
        ("topic-2", "长上下文", ("长上下文",), 2),
    ]


def test_init_on_the_seed_dumps_finds_topics_that_make_sense(isolated: Path, seeds_dir: Path) -> None:
    dumps = isolated / "dumps"
    dumps.mkdir()
    seeds = sorted(seeds_dir.glob("dump_*"))
    for seed in seeds:
        (dumps / seed.name).symlink_to(seed)
    result = run_cli("init", "dumps")
    assert result.exit_code == 0, result.output
    pipeline = load_pipeline(isolated / "extract.toml")
    slugs = [t.slug for t in pipeline.topics]
    assert 3 <= len(slugs) <= 8 and len(set(slugs)) == len(slugs)
    assert all(SLUG.match(s) for s in slugs), slugs
    titles = [r.title.casefold() for seed in seeds for r in ingest_file(seed).records]
    for topic in pipeline.topics:
        held = [t for t in titles if any(k in t for k in topic.keywords)]
        assert len(held) >= MIN_TITLES, topic
    generic = {"model", "models", "language", "llm", "llms", "large", "learning", "the", "for", "and"}
    assert not generic & set(slugs)
    assert {"scaling", "attention"} <= set(slugs)  # what these dumps are most about
