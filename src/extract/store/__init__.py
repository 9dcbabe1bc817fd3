"""The DuckDB store: one file, named append-only migrations, one module per table group."""

from extract.store.db import Database, open_database

__all__ = ["Database", "open_database"]
