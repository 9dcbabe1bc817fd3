"""Bulk inserts: thousands of rows at once, lists, times and one very large value."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from extract.store.db import insert_rows, open_database


def test_a_large_batch_with_a_huge_row_is_stored_whole(tmp_path: Path) -> None:
    with open_database(tmp_path / "bulk.duckdb") as db:
        db.con.execute("CREATE TABLE t (k VARCHAR PRIMARY KEY, tags VARCHAR[], seen TIMESTAMP, body VARCHAR)")
        huge = "x" * (20 * 1024 * 1024)  # beyond DuckDB's default JSON object size
        when = datetime(2026, 11, 23, 1, 2, 3)
        rows = [[f"k{i}", [f"t{i}", "<b>&"], when, huge if i == 7 else "é"] for i in range(2500)]
        insert_rows(db.con, "t", ("k", "tags", "seen", "body"), rows)
        insert_rows(db.con, "t", ("k", "tags", "seen", "body"), rows[:3000], " ON CONFLICT DO NOTHING")
        assert db.con.execute("SELECT count(*), max(length(body)) FROM t").fetchone() == (2500, len(huge))
        assert db.con.execute("SELECT tags, seen, body FROM t WHERE k = 'k3'").fetchone() == (["t3", "<b>&"], when, "é")


def test_duckdb_draws_no_progress_bar_on_stdout(tmp_path: Path) -> None:
    """DuckDB draws a progress bar on stdout for any query over two seconds (a large
    merge's), which would break `--json` output: off on every connection the store opens,
    the import's writer cursor and read-only ones included."""
    with open_database(tmp_path / "quiet.duckdb") as db:
        cursor = db.con.cursor()
        setting = "SELECT current_setting('enable_progress_bar')"
        assert db.con.execute(setting).fetchone() == (False,)
        assert cursor.execute(setting).fetchone() == (False,)
    with open_database(tmp_path / "quiet.duckdb", read_only=True) as db:
        assert db.con.execute(setting).fetchone() == (False,)


def test_lists_of_strings_come_back_as_they_went_in(tmp_path: Path) -> None:
    """Large batches pass lists to DuckDB as one string each: every list comes back item
    for item, the empty list, an empty item, None, and an item holding the separator."""
    odd = [[], [""], ["", ""], ["a b", "ünï", "<x>"], None, ["tab\there"], ["\x1f"], ["x\x1fy", "z"]]
    with open_database(tmp_path / "lists.duckdb") as db:
        db.con.execute("CREATE TABLE t (k INTEGER PRIMARY KEY, tags VARCHAR[], n INTEGER)")
        for clean in (True, False):  # without, then with a separator in an item
            rows = [[i, odd[i % (6 if clean else 8)], i] for i in range(2500)]
            db.con.execute("DELETE FROM t")
            insert_rows(db.con, "t", ("k", "tags", "n"), [list(r) for r in rows])
            stored = db.con.execute("SELECT k, tags, n FROM t ORDER BY k").fetchall()
            assert [list(r) for r in stored] == rows
        insert_rows(db.con, "t", ("k", "tags", "n"), [[9999, ["a", "b"], 1]] * 2000, " ON CONFLICT DO NOTHING")
        assert db.con.execute("SELECT tags FROM t WHERE k = 9999").fetchone() == (["a", "b"],)
