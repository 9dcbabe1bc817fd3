"""Opening the database file: locking, migrations, read-only access for queries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from extract.errors import DatabaseInUse, InputError
from extract.store.migrations import apply_migrations


@dataclass
class Database:
    path: Path
    con: duckdb.DuckDBPyConnection

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def now() -> datetime:
    """UTC, naive (DuckDB TIMESTAMP), so every stored time compares alike."""
    return datetime.now(UTC).replace(tzinfo=None)


def open_database(path: Path, *, read_only: bool = False) -> Database:
    """Open (and migrate) the database; one writer at a time, enforced by DuckDB's file lock."""
    if read_only and not path.exists():
        raise InputError(f"no database at {path} (run `extract run` first, or pass --db)")
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    try:
        con = duckdb.connect(str(path), read_only=read_only)
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            raise DatabaseInUse(f"database in use by another process: {path}") from exc
        raise InputError(f"cannot open database {path}: {str(exc).splitlines()[0]}") from exc
    except duckdb.Error as exc:
        raise InputError(f"cannot open database {path}: {str(exc).splitlines()[0]}") from exc
    if not read_only:
        apply_migrations(con)
    return Database(path=path, con=con)
