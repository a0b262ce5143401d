"""The SQLite engine binds None and bytes through registered adapters (`db.engine._bind_without_lookups`): found
at once instead of after two failed attribute look-ups, and storing exactly what the driver stored before."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import sqlalchemy as sa

from clearinghouse.db.engine import make_engine


def test_none_and_bytes_are_bound_as_before_through_registered_adapters(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'binding.db'}")
    try:
        assert (type(None), sqlite3.PrepareProtocol) in sqlite3.adapters
        assert (bytes, sqlite3.PrepareProtocol) in sqlite3.adapters
        blob = bytes(range(256))
        with engine.begin() as connection:
            connection.execute(sa.text("CREATE TABLE t (a, b, c)"))
            connection.execute(sa.text("INSERT INTO t VALUES (:a, :b, :c)"), {"a": None, "b": blob, "c": b""})
            row = connection.execute(sa.text("SELECT typeof(a), typeof(b), b, typeof(c), length(c) FROM t")).one()
        assert tuple(row) == ("null", "blob", blob, "blob", 0)
    finally:
        engine.dispose()
