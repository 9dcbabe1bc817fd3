"""Opening the database file: locking, migrations, read-only access for queries."""

from __future__ import annotations

import contextlib
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from extract.errors import DatabaseInUse, InputError
from extract.store.migrations import apply_migrations
from extract.store.views import create_views

if TYPE_CHECKING:
    import duckdb

_BATCH_ROWS = 256
_BULK_ROWS = 2000


@dataclass
class Database:
    path: Path
    con: duckdb.DuckDBPyConnection

    def close(self) -> None:
        self.con.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """All or nothing; callers never await inside one (one event-loop thread writes)."""
        self.con.execute("BEGIN TRANSACTION")
        try:
            yield
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        self.con.execute("COMMIT")

    def insert_many(self, table: str, columns: tuple[str, ...], rows: list[list[Any]], suffix: str = "") -> None:
        insert_rows(self.con, table, columns, rows, suffix)

    def insert_new(self, table: str, columns: tuple[str, ...], rows: list[list[Any]]) -> None:
        """`INSERT ... ON CONFLICT DO NOTHING` that first leaves out the rows whose first
        column (the table's key) is stored already: rows a re-run brings again cost one
        look-up, not a conflicting write each."""
        if not rows:
            return
        key = columns[0]
        stored = {
            r[0]
            for r in self.con.execute(
                f"SELECT {key} FROM {table} SEMI JOIN (SELECT unnest(?::VARCHAR[]) AS {key}) USING ({key})",
                [[row[0] for row in rows]],
            ).fetchall()
        }
        insert_rows(self.con, table, columns, [row for row in rows if row[0] not in stored], " ON CONFLICT DO NOTHING")

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def insert_rows(
    con: duckdb.DuckDBPyConnection, table: str, columns: tuple[str, ...], rows: list[list[Any]], suffix: str = ""
) -> None:
    """Multi-row INSERTs: DuckDB's executemany runs one statement per row, which is slow;
    large batches go through DuckDB's appender."""
    if not rows:
        return
    if len(rows) >= _BULK_ROWS:
        _bulk_insert(con, table, columns, rows, suffix)
        return
    one = "(" + ", ".join("?" for _ in columns) + ")"
    for at in range(0, len(rows), _BATCH_ROWS):
        batch = rows[at : at + _BATCH_ROWS]
        sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES " + ", ".join(one for _ in batch) + suffix
        con.execute(sql, [v for row in batch for v in row])


def _bulk_insert(
    con: duckdb.DuckDBPyConnection, table: str, columns: tuple[str, ...], rows: list[list[Any]], suffix: str
) -> None:
    """DuckDB's appender converts each value as a query parameter would be (like the
    small batches above) and writes the batch in one statement. With a suffix (ON
    CONFLICT ...), the rows go to a temporary table of the same column types first.

    A list of strings costs the appender many times what one string does: list columns
    go in as one string each (`_joined`) and are split again in SQL."""
    rows, joined = _joined(rows)
    if not suffix and not joined:
        with con.appender(table, columns=list(columns)) as appender:
            appender.append_rows(rows)
        return
    listed = ", ".join(columns)
    staging = f"_bulk_{table}"
    staged = ", ".join(f"NULL::VARCHAR AS {c}" if i in joined else c for i, c in enumerate(columns))
    con.execute(f"CREATE OR REPLACE TEMP TABLE {staging} AS SELECT {staged} FROM {table} LIMIT 0")
    with con.appender(staging) as appender:
        appender.append_rows(rows)
    split = ", ".join(split_list(c) if i in joined else c for i, c in enumerate(columns))
    con.execute(f"INSERT INTO {table} ({listed}) SELECT {split} FROM {staging}{suffix}")
    con.execute(f"DROP TABLE {staging}")


_UNIT = "\x1f"


def joined(items: Collection[str]) -> str:
    """A list of strings as one string, each item after a unit separator ("" for none):
    DuckDB's appender takes one string for a fraction of what a list of strings costs.
    `split_list` turns it back in SQL."""
    return _UNIT + _UNIT.join(items) if items else ""


def split_list(column: str) -> str:
    """SQL for the list a `joined` string column holds."""
    return f"string_split({column}, chr(31))[2:]"


def _joined(rows: list[list[Any]]) -> tuple[list[list[Any]], set[int]]:
    """The rows with each list of strings (or None) in the columns where the first row
    has a list as one string: each item after a unit separator, "" for an empty list;
    and those columns. When a value is not a list of strings, or an item holds the
    separator itself, the rows as they are and no column."""
    columns = [i for i, v in enumerate(rows[0]) if isinstance(v, list)]
    if not columns:
        return rows, set()
    out = []
    for row in rows:
        copy = list(row)
        for i in columns:
            items = copy[i]
            if items is None:
                continue
            if not isinstance(items, list):
                return rows, set()
            try:
                text = joined(items)
            except TypeError:
                return rows, set()
            if text.count(_UNIT) != len(items):
                return rows, set()
            copy[i] = text
        out.append(copy)
    return out, set(columns)


def now() -> datetime:
    """UTC, naive (DuckDB TIMESTAMP), so every stored time compares alike."""
    return datetime.now(UTC).replace(tzinfo=None)


def _is_duckdb_file(path: Path) -> bool:
    """True for a DuckDB file (its header says "DUCK" at byte 8), a path with nothing
    there yet, and an empty file."""
    try:
        with path.open("rb") as handle:
            head = handle.read(12)
    except FileNotFoundError:
        return True
    except OSError:
        return True  # a directory, no permission: DuckDB's own error says which
    return not head or head[8:12] == b"DUCK"


def open_database(path: Path, *, read_only: bool = False) -> Database:
    """Open the database; one writer at a time, enforced by DuckDB's file lock. A writing
    open applies the migrations and recreates every view (`store/views.py`); a read-only
    one sees the views as the last writing open left them."""
    if read_only and not path.exists():
        raise InputError(f"no database at {path} (run `extract run` first, or pass --db)")
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    if not _is_duckdb_file(path):
        # DuckDB opens a CSV, JSON or Parquet file as an in-memory database: what a
        # run stored there would be lost.
        raise InputError(f"not a DuckDB database: {path} (pass --db a .duckdb file, new or made by extract)")
    import duckdb  # here, not at the top: a plan without a database never loads it

    try:
        con = duckdb.connect(str(path), read_only=read_only)
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            raise DatabaseInUse(f"database in use by another process: {path}") from exc
        raise InputError(f"cannot open database {path}: {str(exc).splitlines()[0]}") from exc
    except duckdb.Error as exc:
        raise InputError(f"cannot open database {path}: {str(exc).splitlines()[0]}") from exc
    # DuckDB draws its own progress bar on stdout for queries over two seconds (a large
    # merge's): it would land in the middle of `--json` output.
    con.execute("SET enable_progress_bar = false")
    if not read_only:
        apply_migrations(con)
        create_views(con)
    return Database(path=path, con=con)
