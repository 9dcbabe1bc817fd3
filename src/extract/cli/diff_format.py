"""`extract diff` as text (like `git diff --stat`, then the details) and as Markdown.

Both read the structure `extract.pipeline.diff.diff_runs` returns.
"""

from __future__ import annotations

import re
from typing import Any

from extract.pipeline import KINDS

BAR_WIDTH = 40
NO_TOPIC = "(no topic)"
MARKS = {"new": "+", "dropped": "-"}
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|#&])")


def _cut(text: str | None, width: int) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _mark(change: dict[str, Any]) -> str:
    return MARKS.get(change["kinds"][0], "~")


def _prompts(run: dict[str, Any]) -> str:
    return ", ".join(f"{name}@{digest[:8]}" for name, digest in sorted(run["prompts"].items())) or "-"


def _scope(diff: dict[str, Any]) -> str:
    return f"topic {diff['topic']}" if diff["topic"] is not None else "all topics"


def _bar(counts: dict[str, Any], scale: float) -> str:
    parts = (("+", counts["new"]), ("-", counts["dropped"]), ("~", counts["changed"]))
    # Like git: scaled to the widest line, yet every non-zero count keeps at least one mark.
    return "".join(mark * (max(1, round(n * scale)) if n else 0) for mark, n in parts)


def _kind_counts(by_kind: dict[str, int]) -> str:
    return ", ".join(f"{k} {by_kind[k]}" for k in KINDS if by_kind[k]) or "none"


def _view(view: dict[str, Any]) -> str:
    return (
        f"{view['stance']} [{view['domain'] or '-'}], tags {', '.join(view['tags']) or '-'},"
        f" citations {', '.join(view['citations']) or '-'}, {view['n_obs']} observation(s),"
        f" {len(view['evidence'])} quote(s)"
    )


def _text_details(change: dict[str, Any]) -> list[str]:
    if change["a"] is None or change["b"] is None:
        kind = change["kinds"][0]
        return [f"    {kind:<12} {_view(change['a'] or change['b'])}"]
    lines = []
    for kind, detail in change["details"].items():
        if "added" not in detail:
            lines.append(f"    {kind:<12} {detail['a'] or '-'} → {detail['b'] or '-'}")
        elif kind == "evidence":
            marked = [("+", q) for q in detail["added"]] + [("-", q) for q in detail["removed"]]
            for i, (mark, quote) in enumerate(marked):
                lines.append(f'    {kind if i == 0 else "":<12} {mark} "{_cut(quote, 100)}"')
        else:
            words = [f"+{v}" for v in detail["added"]] + [f"-{v}" for v in detail["removed"]]
            lines.append(f"    {kind:<12} {' '.join(words)}")
    return lines


def render_text(diff: dict[str, Any]) -> str:
    a, b, summary = diff["run_a"], diff["run_b"], diff["summary"]
    lines = [f"diff {a['run_id']} → {b['run_id']}  ({_scope(diff)})"]
    command_width = max(len(a["command"]), len(b["command"]))
    for label, run in (("a", a), ("b", b)):
        lines.append(
            f"  {label}  {run['run_id']}  {run['started_at']}  {run['command']:<{command_width}}"
            f"  model {run['model'] or '-'}"
            f"  prompts {_prompts(run)}  {run['status']}  {run['observations']} obs, {run['claims']} claims"
        )
    if not diff["changes"]:
        lines.append(f"no changes: {summary['unchanged']} claim(s) compared, all identical")
        return "\n".join(lines)
    changed_topics = [t for t in diff["by_topic"] if t["new"] or t["dropped"] or t["changed"]]
    names = [t["topic"] or NO_TOPIC for t in changed_topics]
    width = max(len(n) for n in names)
    widest = max(t["new"] + t["dropped"] + t["changed"] for t in changed_topics)
    scale = min(1.0, BAR_WIDTH / widest)
    digits = len(str(widest))
    for name, t in zip(names, changed_topics, strict=True):
        total = t["new"] + t["dropped"] + t["changed"]
        lines.append(f" {name:<{width}} | {total:>{digits}} {_bar(t, scale)}")
    n = summary["new"] + summary["dropped"] + summary["changed"]
    lines.append(
        f" {n} claim(s) in {len(changed_topics)} topic(s): {summary['new']} new (+), {summary['dropped']} dropped (-),"
        f" {summary['changed']} changed (~), {summary['unchanged']} unchanged"
    )
    lines.append(f" by kind: {_kind_counts(summary['by_kind'])}")
    for change in diff["changes"]:
        lines.append("")
        lines.append(
            f"{_mark(change)} {change['claim_id']}  [{change['topic'] or NO_TOPIC}]  {_cut(change['text'], 100)}"
        )
        lines.extend(_text_details(change))
    return "\n".join(lines)


def _md(text: str | None) -> str:
    """Dump and model text as literal Markdown text: nothing in it becomes markup."""
    return _MD_SPECIAL.sub(r"\\\1", " ".join((text or "").split()))


def _md_details(change: dict[str, Any]) -> list[str]:
    if change["a"] is None or change["b"] is None:
        view = change["a"] or change["b"]
        return [
            f"- **{change['kinds'][0]}**: {view['stance']}, domain {_md(view['domain'] or '-')},"
            f" tags {_md(', '.join(view['tags']) or '-')}, citations {_md(', '.join(view['citations']) or '-')},"
            f" {view['n_obs']} observation(s)",
            *(f"  - “{_md(_cut(q, 300))}”" for q in view["evidence"]),
        ]
    lines = []
    for kind, detail in change["details"].items():
        if "added" not in detail:
            lines.append(f"- **{kind}**: {_md(detail['a'] or '-')} → {_md(detail['b'] or '-')}")
            continue
        lines.append(f"- **{kind}**:")
        quoted = kind == "evidence"
        for label, values in (("added", detail["added"]), ("removed", detail["removed"])):
            lines.extend(f"  - {label}: {'“' + _md(_cut(v, 300)) + '”' if quoted else _md(v)}" for v in values)
    return lines


def render_markdown(diff: dict[str, Any]) -> str:
    a, b = diff["run_a"], diff["run_b"]
    lines = [
        f"# Diff {_md(a['run_id'])} → {_md(b['run_id'])}",
        "",
        f"Scope: {_md(_scope(diff))}.",
        "",
        "| | run | started | command | model | prompts | status | observations | claims |",
        "|---|---|---|---|---|---|---|---:|---:|",
    ]
    for label, run in (("A", a), ("B", b)):
        lines.append(
            f"| {label} | {_md(run['run_id'])} | {run['started_at']} | {_md(run['command'])} | {_md(run['model'])}"
            f" | {_md(_prompts(run))} | {run['status']} | {run['observations']} | {run['claims']} |"
        )
    lines += ["", "## Summary", ""]
    if not diff["changes"]:
        lines.append(f"No changes: {diff['summary']['unchanged']} claim(s) compared, all identical.")
        return "\n".join(lines) + "\n"
    lines += [
        "| topic | claims changed | unchanged | " + " | ".join(KINDS) + " |",
        "|---|" + "---:|" * (len(KINDS) + 2),
    ]
    rows = [(t["topic"] or NO_TOPIC, t) for t in diff["by_topic"]] + [("**total**", diff["summary"])]
    for name, t in rows:
        lines.append(
            f"| {_md(name) if t is not diff['summary'] else name} | {t['new'] + t['dropped'] + t['changed']}"
            f" | {t['unchanged']} | " + " | ".join(str(t["by_kind"][k]) for k in KINDS) + " |"
        )
    lines += ["", "## Changes"]
    for change in diff["changes"]:
        lines += [
            "",
            f"### {_mark(change)} {change['claim_id']} ({', '.join(change['kinds'])})"
            f" · {_md(change['topic'] or NO_TOPIC)}",
            "",
            _md(change["text"]),
            "",
            *_md_details(change),
        ]
    return "\n".join(lines) + "\n"
