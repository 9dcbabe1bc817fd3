"""Which observations may ever be compared: the merge's scopes and blocks."""

from __future__ import annotations

Block = tuple[str, str | None]


def scope_of(kind: str, field_path: str | None) -> str:
    """Triage claims share one scope; a report statement's scope is its field path,
    position included (`report.positions[2].stance`): in the dashboard every
    merged pair of report statements shares it."""
    if not field_path:
        return "triage" if kind == "ref_triage" else kind
    return field_path


def block_of(scope: str, topic: str | None) -> Block:
    """Claims are only ever compared within a block: triage claims across topics,
    report statements within their topic and field path."""
    return (scope, None) if scope == "triage" else (scope, topic)
