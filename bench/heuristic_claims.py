"""Do the offline baseline's claims read as claims? A heuristic run of pipelines/papers.toml
over the four seed dumps (../shared/seeds, or $EXTRACT_SEEDS), in a temporary directory:

    uv run python bench/heuristic_claims.py [--samples 3]

Per dump and in total it prints the triage claims, how many of them are a formula, a
code line, a URL, a table row, a heading, a caption or a fragment (target: none), and
how many carry a finding cue (a number, a comparison or a cue word), then a few sample
claims from each dump and any it should not have.

The non-claim kinds are judged here by checks of this script's own, simpler than
`extract.linekind` and blind to it, so the figures measure the heuristic rather than
restate its filter. "The line" is the dump line the claim's quote stands on:

- formula: two `$` or a LaTeX command in the claim, or `=` with fewer than six words;
- code: the line or the claim starts like a Python or shell statement or a `//` or
  `/*` comment, or the claim has two code tokens;
- url: the claim or its line is a link with fewer than four words beside it;
- table: the line starts or ends with `|`, or has two ` | ` or two tabs;
- heading: the line starts with `#`, equals a record's title, is a short Latin line,
  60 % capitalised, with no final . ! ?, or (its list marker aside) has no sentence
  punctuation at all (, ; ! ?, a . before a space, and their CJK forms) and is a CJK
  line of at most 40 characters or a Latin `X: y` line of at most 12 words; or it
  starts with a section number and a space (`1.2 `) or a `Day N|` label and has no
  final punctuation;
- caption: the line or the claim starts with `图`, `表`, `Figure`, `Fig.` or `Table`, a
  number and a `:` or `.`;
- fragment: the claim starts with a closing quote or bracket (cut out of a quotation).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from extract.cli import cli

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ("dump_awesome_papers_zh.md", "dump_reading_list_en.txt", "dump_digest_zh.txt", "dump_thread_nl.txt")
KINDS = ("formula", "code", "url", "table", "heading", "caption", "fragment")

_LATEX_COMMAND = re.compile(r"\\[A-Za-z]{2,}")
_CODE_LINE = re.compile(
    r"^\s*(?:import \w|from [\w.]+ import|def \w+\(|class \w+[(:]|return\b|print\(|for \w+ in .*:$|if .*:$|"
    r"[\w.\[\]]+\s*[+\-*/]?=\s*[\w.]+\(|\$ \w|pip install|npm |git |curl |const |let |var |function |//|/\*)"
)
_CODE_TOKENS = re.compile(r"self\.|\w\.\w+\(|\)\s*[;{]\s*$|[{};]\s*$|==|!=|\w_\w+\s*=")
_URL = re.compile(r"https?://\S+|www\.\S+|<img[^>]*>?|\]\([^)]*\)")
_WORD = re.compile(r"[A-Za-z]{2,}|[\u4e00-\u9fff]")
_CJK = re.compile(r"[\u4e00-\u9fff]")
_NUMBER = re.compile(r"\d")
_LIST_MARKER = re.compile(r"^(?:[-*+>•●]\s*|\d{1,2}[.)]\s+)")
_SENTENCE_PUNCT = re.compile(r"[,;!?，。；！？]|\.(?=\s|$)")
_FINAL_PUNCT = (".", "!", "?", "。", "！", "？")
_SECTION = re.compile(r"^\d+(?:\.\d+)*\s|^[A-Za-z]+\s*\d+\s*[|｜]")
_CAPTION = re.compile(r"^(?:图|表|Figure|Fig\.|Table)\s*\d+[a-z]?\s*[:：.]")
_CLOSER = tuple("」』”’)）]】》")
# Cues of a finding, kept apart from the heuristic's own list on purpose.
_FINDING = re.compile(
    r"than|outperform|improv|better|worse|faster|slower|reduc|increas|fewer|surpass|beats?\b|we show|shows? that|"
    r"demonstrat|achiev|state-of-the-art|significant|提升|优于|降低|显著|超过|高于|低于|减少|提高|表明|证明|超越|"
    r"we propose|we introduce|提出|beter|sneller|hoger|lager|verbeter",
    re.IGNORECASE,
)


def _source_line(text: str, observation: dict[str, Any]) -> str:
    """The line(s) of the document the observation's quote stands on."""
    start, end = observation["char_start"], observation["char_end"]
    return text[text.rfind("\n", 0, start) + 1 : (text.find("\n", end) + 1 or len(text) + 1) - 1].strip()


def kind_of(claim: str, line: str, titles: set[str]) -> str | None:
    """Which non-claim the claim is (formula, code, url, table, heading, caption, fragment), or None."""
    if claim.count("$") >= 2 or _LATEX_COMMAND.search(claim) or ("=" in claim and len(_WORD.findall(claim)) < 6):
        return "formula"
    if _CODE_LINE.match(line) or _CODE_LINE.match(claim) or len(_CODE_TOKENS.findall(claim)) >= 2:
        return "code"
    if any(_URL.search(t) and len(_WORD.findall(_URL.sub(" ", t))) < 4 for t in (claim, line)):
        return "url"
    if line.startswith("|") or line.endswith("|") or line.count(" | ") >= 2 or line.count("\t") >= 2:
        return "table"
    if _CAPTION.match(line) or _CAPTION.match(claim):
        return "caption"
    words = line.split()
    capitalised = sum(1 for w in words if w[:1].isupper())
    title_case = not _CJK.search(line) and len(words) <= 12 and capitalised >= 0.6 * len(words)
    if line.startswith("#") or line.strip("*# ") in titles or (title_case and not line.endswith(_FINAL_PUNCT)):
        return "heading"
    bare = _LIST_MARKER.sub("", line).strip("*_ ")
    if not _SENTENCE_PUNCT.search(bare):
        if _CJK.search(bare) and len(bare) <= 40:
            return "heading"
        if not _CJK.search(bare) and ":" in bare and len(bare.split()) <= 12:
            return "heading"
    if _SECTION.match(bare) and not bare.endswith(_FINAL_PUNCT):
        return "heading"
    if claim.startswith(_CLOSER):
        return "fragment"
    return None


def has_finding_cue(claim: str) -> bool:
    return bool(_NUMBER.search(claim) or _FINDING.search(claim))


def _extract(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    if result.exit_code not in (0, 1):
        raise SystemExit(f"extract {' '.join(args)} failed: {result.output}")
    return result.stdout


def _export(db: Path, table: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in _extract("export", table, "--format", "jsonl", "--db", str(db)).splitlines()]


def _row(label: str, claims: int, kinds: Counter[str], cued: int) -> str:
    bad = sum(kinds.values())
    share = f"{bad / claims:.1%}" if claims else "-"
    detail = " ".join(f"{k} {kinds[k]}" for k in KINDS)
    cue = f"{cued / claims:.0%}" if claims else "-"
    return f"{label:<28} {claims:>6} {bad:>5} {share:>6}  ({detail})  {cued:>5} {cue:>5}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=3, help="Sample claims printed per dump.")
    args = parser.parse_args()
    seeds = Path(os.environ.get("EXTRACT_SEEDS", ROOT.parent / "shared" / "seeds"))
    inputs = [a for name in SEEDS for a in ("--input", str(seeds / name))]
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "claims.duckdb"
        pipeline = str(ROOT / "pipelines" / "papers.toml")
        _extract("run", pipeline, "--model", "heuristic", "--db", str(db), "--quiet", *inputs)
        docs = {d["sha256"]: (Path(d["path"]).name, d["text"]) for d in _export(db, "documents")}
        titles = {str(r["title"]).strip() for r in _export(db, "records") if r["title"]}
        texts = {c["claim_id"]: c["text"] for c in _export(db, "claims")}
        observations = [o for o in _export(db, "observations") if o["kind"] == "ref_triage"]
    # One verdict per (dump, claim): its first observation in that dump.
    first: dict[tuple[str, str], dict[str, Any]] = {}
    for o in sorted(observations, key=lambda o: (o["doc_sha256"], o["char_start"])):
        first.setdefault((docs[o["doc_sha256"]][0], o["claim_id"]), o)
    header = f"{'dump':<28} {'claims':>6} {'bad':>5} {'share':>6}  ({' '.join(KINDS)})"
    print(f"{header}  {'cued':>5} {'share':>5}")
    total_kinds: Counter[str] = Counter()
    total_cued = 0
    samples: dict[str, list[str]] = {}
    for name in SEEDS:
        rows = [(cid, o) for (dump, cid), o in first.items() if dump == name]
        verdicts = [
            (texts[cid], kind_of(texts[cid], _source_line(docs[o["doc_sha256"]][1], o), titles)) for cid, o in rows
        ]
        kinds = Counter(kind for _, kind in verdicts if kind)
        cued = sum(has_finding_cue(text) for text, _ in verdicts)
        print(_row(name, len(rows), kinds, cued))
        total_kinds += kinds
        total_cued += cued
        # The first claims of the dump, then any it should not have.
        samples[name] = [text for text, _ in verdicts[: args.samples]]
        samples[name] += [f"[{kind}] {text}" for text, kind in verdicts if kind]
    print(_row("total", len(first), total_kinds, total_cued))
    for name, lines in samples.items():
        print(f"\n{name}:")
        for line in lines[: args.samples + 5]:
            print(f"  - {line[:160]}")


if __name__ == "__main__":
    main()
