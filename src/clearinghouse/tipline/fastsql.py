"""Bulk inserts and updates for the tipline's hot paths, handed to the SQLite driver in one `executemany`.

SQLAlchemy Core's executemany builds and processes a parameter dictionary per row, which at bulk volumes
costs two to three times what SQLite spends storing the row. On SQLite these helpers convert each value with
the column type's own bind processor (read once per column), except timestamps, which are formatted directly
in the same text SQLAlchemy stores (`tests/tipline/test_fastsql.py` checks both agree), and pass plain tuples
to the driver. Other databases take the ordinary Core statements: PostgreSQL is not the bottleneck there.

A JSON value already serialised (by a worker process, say) is passed as `EncodedJSON` and stored as is.
"""

from __future__ import annotations

import datetime as dt
import gc
import json
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from operator import itemgetter
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import InstrumentedAttribute, Session

from clearinghouse.db.base import UTCDateTime


class EncodedJSON(str):
    """JSON text to be stored in a JSON column unchanged."""

    __slots__ = ()


Converter = Callable[[Any], Any]

_gc_lock = threading.Lock()
_gc_pauses = 0
_gc_was_enabled = False


@contextmanager
def gc_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off for the block (bulk work: one chunk, one batch).

    A chunk makes hundreds of thousands of short-lived containers (rows, parsed models), none of them in a
    cycle: freed by reference counting, they only trigger collections that walk the whole heap again and
    again, which measured at about half the CPU of bulk intake. Pauses nest and may overlap across threads;
    the collector is turned back on (if it was on) when the last one ends, so between chunks it runs as usual
    and collects whatever cyclic garbage a chunk left (a few objects of the database session).
    """
    global _gc_pauses, _gc_was_enabled
    with _gc_lock:
        if _gc_pauses == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _gc_pauses += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_pauses -= 1
            if _gc_pauses == 0 and _gc_was_enabled:
                gc.enable()


@lru_cache(maxsize=8192)
def _sqlite_timestamp(value: dt.datetime | None) -> str | None:
    # Cached: a report's received, opened and last-changed times are one value, and batches repeat it.
    if value is None:
        return None
    offset = value.utcoffset()
    if offset is None:
        raise ValueError(f"naive datetime {value.isoformat()} refused: timestamps must carry a time zone")
    # In UTC, without its offset (what SQLAlchemy's SQLite DATETIME stores): the offset is cut from the text
    # rather than the value rebuilt, at half the cost.
    return (value - offset if offset else value).isoformat(sep=" ", timespec="microseconds")[:26]


def _json_converter(processor: Converter | None) -> Converter:
    def convert(value: Any) -> Any:
        if value is None:
            return None  # SQL NULL: the column's own processor would store the JSON text null
        if isinstance(value, EncodedJSON):
            return str(value)  # plain text: what the driver stores, and what pickles fast
        return processor(value) if processor is not None else value

    return convert


def _enum_converter(processor: Converter, members: Sequence[Any]) -> Converter:
    # The stored text of each member, worked out once: the type's own processor is slow per value.
    stored = {member: processor(member) for member in members}

    def convert(value: Any) -> Any:
        found = stored.get(value)
        return found if found is not None else processor(value)

    return convert


def _converter(column: sa.Column[Any], dialect: sa.Dialect) -> Converter:
    if isinstance(column.type, UTCDateTime):
        return _sqlite_timestamp
    processor = column.type._cached_bind_processor(dialect)
    if isinstance(column.type, sa.JSON):
        return _json_converter(processor)
    enum_class = getattr(column.type, "enum_class", None)
    if isinstance(column.type, sa.Enum) and enum_class is not None and processor is not None:
        return _enum_converter(processor, list(enum_class))
    return processor if processor is not None else _identity


def _identity(value: Any) -> Any:
    return value


def _decoded(table: sa.Table, rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Rows for a Core statement: pre-serialised JSON decoded back, since Core serialises JSON itself."""
    json_columns = [c.name for c in table.columns if isinstance(c.type, sa.JSON)]
    decoded = []
    for row in rows:
        copy = dict(row)
        for name in json_columns:
            if isinstance(copy.get(name), EncodedJSON):
                copy[name] = json.loads(copy[name])
        decoded.append(copy)
    return decoded


def _is_sqlite(session: Session) -> bool:
    return session.get_bind().dialect.name == "sqlite"


def _tuples(table: sa.Table, names: Sequence[str], rows: Sequence[Mapping[str, Any]]) -> list[tuple[Any, ...]]:
    """SQLite rows as tuples of stored values (see `values_converter`)."""
    convert = values_converter(table, tuple(names), "sqlite")
    if len(names) == 1:
        return [convert((row[names[0]],)) for row in rows]
    take = itemgetter(*names)
    return [convert(take(row)) for row in rows]


@dataclass(frozen=True)
class Prepared:
    """A bulk statement with its parameters converted, ready to run: preparing it takes no lock on SQLite, so
    a writer can do all its converting first and hold the write lock only while the driver stores the rows."""

    sql: str | None
    """Driver SQL (SQLite), or None for a Core statement."""
    params: list[tuple[Any, ...]]
    core: tuple[sa.Executable, list[dict[str, Any]]] | None = None

    def __bool__(self) -> bool:
        return bool(self.params) or bool(self.core and self.core[1])


NOTHING = Prepared(None, [])


def prepare_insert(session: Session, table: sa.Table, rows: Sequence[Mapping[str, Any]]) -> Prepared:
    """An insert of ``rows`` (all with the same keys) into ``table``."""
    if not rows:
        return NOTHING
    if not _is_sqlite(session):
        return Prepared(None, [], (sa.insert(table), _decoded(table, rows)))
    names = list(rows[0])
    columns = ", ".join(f'"{name}"' for name in names)
    marks = ", ".join("?" for _ in names)
    sql = f'INSERT INTO "{table.name}" ({columns}) VALUES ({marks})'  # noqa: S608 - names come from the table
    return Prepared(sql, _tuples(table, names, rows))


def among(
    session: Session, column: sa.ColumnElement[Any] | InstrumentedAttribute[Any], values: Sequence[Any]
) -> sa.ColumnElement[bool]:
    """``column IN values``. On SQLite the values travel as one JSON array read by ``json_each``: SQLAlchemy's
    expanding ``IN`` renders and processes each value in Python, which at batch sizes costs more than the look-up."""
    if not _is_sqlite(session):
        return column.in_(values)
    listed: sa.Select[Any] = sa.select(sa.column("value")).select_from(
        sa.func.json_each(sa.literal(json.dumps(list(values))))
    )
    return column.in_(listed.scalar_subquery())


@lru_cache(maxsize=64)
def values_converter(
    table: sa.Table, names: tuple[str, ...], dialect_name: str
) -> Callable[[Sequence[Any]], tuple[Any, ...]]:
    """A function turning a row's values (in ``names`` order) into what the driver stores, for SQLite; runs
    anywhere, a worker process included (no connection needed). Other databases take Python values as they
    are (Core converts them: see `prepare_insert_values`), so it returns them unchanged.
    """
    if dialect_name != "sqlite":
        return tuple
    from sqlalchemy.dialects import sqlite

    dialect = sqlite.dialect()
    convert = [(i, c) for i, c in enumerate(_converter(table.c[name], dialect) for name in names) if c is not _identity]

    def converted(values: Sequence[Any]) -> tuple[Any, ...]:
        items = list(values)
        for index, converter in convert:
            items[index] = converter(items[index])
        return tuple(items)

    return converted


@lru_cache(maxsize=64)
def column_converter(table: sa.Table, name: str, dialect_name: str) -> Converter:
    """`values_converter` for one column's values one at a time (for rows assembled by hand)."""
    if dialect_name != "sqlite":
        return _identity
    from sqlalchemy.dialects import sqlite

    return _converter(table.c[name], sqlite.dialect())


def prepare_insert_values(
    session: Session, table: sa.Table, names: Sequence[str], rows: Sequence[tuple[Any, ...]]
) -> list[Prepared]:
    """Inserts of ``rows`` given as tuples in ``names`` order, already converted by `values_converter` (one
    statement on SQLite)."""
    if not rows:
        return []
    if not _is_sqlite(session):
        # A None in a JSON column is left out of its row (Core would store JSON null); rows are grouped by the
        # columns they keep, since one executemany takes one set of columns.
        json_columns = {c.name for c in table.columns if isinstance(c.type, sa.JSON)}
        groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for row in rows:
            kept = {n: v for n, v in zip(names, row, strict=True) if v is not None or n not in json_columns}
            groups.setdefault(tuple(kept), []).append(kept)
        return [Prepared(None, [], (sa.insert(table), _decoded(table, group))) for group in groups.values()]
    columns = ", ".join(f'"{name}"' for name in names)
    marks = ", ".join("?" for _ in names)
    sql = f'INSERT INTO "{table.name}" ({columns}) VALUES ({marks})'  # noqa: S608 - names come from the table
    return [Prepared(sql, list(rows))]


def prepare_update(
    session: Session, table: sa.Table, rows: Sequence[Mapping[str, Any]], *, key: str = "id"
) -> Prepared:
    """Set the other columns of each row on the row of ``table`` whose ``key`` column matches."""
    if not rows:
        return NOTHING
    names = [name for name in rows[0] if name != key]
    if not _is_sqlite(session):
        statement = (
            sa.update(table)
            .where(table.c[key] == sa.bindparam("_key"))
            .values({name: sa.bindparam(f"_{name}") for name in names})
        )
        params = [{"_key": row[key], **{f"_{name}": row[name] for name in names}} for row in _decoded(table, rows)]
        return Prepared(None, [], (statement, params))
    assignments = ", ".join(f'"{name}" = ?' for name in names)
    sql = f'UPDATE "{table.name}" SET {assignments} WHERE "{key}" = ?'  # noqa: S608 - names come from the table
    return Prepared(sql, _tuples(table, [*names, key], rows))


def run(session: Session, *statements: Prepared) -> None:
    """Run prepared statements, in order, in the caller's transaction."""
    for statement in statements:
        if statement.core is not None and statement.core[1]:
            session.execute(*statement.core)
        elif statement.sql is not None and statement.params:
            session.connection().exec_driver_sql(statement.sql, statement.params)


def insert(session: Session, table: sa.Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert ``rows`` (all with the same keys) into ``table`` in the caller's transaction."""
    run(session, prepare_insert(session, table, rows))


def update(session: Session, table: sa.Table, rows: Sequence[Mapping[str, Any]], *, key: str = "id") -> None:
    """Set the other columns of each row on the row of ``table`` whose ``key`` column matches."""
    run(session, prepare_update(session, table, rows, key=key))


def next_ids(session: Session, table: sa.Table, count: int) -> list[int] | None:
    """On SQLite, the ids the next ``count`` rows of ``table`` take (after its largest); None elsewhere, where
    the database assigns them (see `insert_with_ids`).

    Should another writer take the same ids first, the insert fails on the primary key and the caller's
    transaction is retried whole.
    """
    if not _is_sqlite(session):
        return None
    first = int(session.execute(sa.select(sa.func.coalesce(sa.func.max(table.c.id), 0))).scalar_one()) + 1
    return list(range(first, first + count))


def reserve_ids(session: Session, table: sa.Table, count: int) -> list[int]:
    """Ids for the next ``count`` rows of ``table``, to insert them with: on SQLite after its largest (see
    `next_ids`), on PostgreSQL taken from the column's sequence (never handed out twice)."""
    ids = next_ids(session, table, count)
    if ids is not None:
        return ids
    if count == 0:
        return []
    sequence = sa.func.pg_get_serial_sequence(table.name, "id")
    query = sa.select(sa.func.nextval(sequence)).select_from(sa.func.generate_series(1, count))
    return [int(value) for value in session.scalars(query)]


def insert_with_ids(session: Session, table: sa.Table, rows: Sequence[Mapping[str, Any]]) -> list[int]:
    """Insert ``rows`` and return their new ids, in order (given explicitly on SQLite: see `next_ids`)."""
    if not rows:
        return []
    ids = next_ids(session, table, len(rows))
    if ids is None:
        statement = sa.insert(table).returning(table.c.id, sort_by_parameter_order=True)
        return [int(row[0]) for row in session.execute(statement, _decoded(table, rows))]
    insert(session, table, [{"id": i, **row} for i, row in zip(ids, rows, strict=True)])
    return ids
