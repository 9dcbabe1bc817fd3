"""The `endpoint_formats` table: which structured-output mode an endpoint and model
accept, as `response_format = "auto"` found out, and what each refusal said."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from extract.store.db import Database, now


@dataclass
class EndpointFormat:
    mode: str
    refused: list[dict[str, object]] = field(default_factory=list)  # [{mode, status, message}]


def stored_format(db: Database, base_url: str, model: str) -> EndpointFormat | None:
    row = db.con.execute(
        "SELECT mode, refused FROM endpoint_formats WHERE base_url = ? AND model = ?", [base_url, model]
    ).fetchone()
    if row is None:
        return None
    return EndpointFormat(row[0], json.loads(row[1]))


def save_format(db: Database, base_url: str, model: str, found: EndpointFormat) -> None:
    db.con.execute(
        "INSERT OR REPLACE INTO endpoint_formats (base_url, model, mode, refused, decided_at) VALUES (?, ?, ?, ?, ?)",
        [base_url, model, found.mode, json.dumps(found.refused, ensure_ascii=False), now()],
    )
