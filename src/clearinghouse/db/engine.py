"""Engines and units of work for the embedded SQLite store and for PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from clearinghouse.db.turns import WriteTurn, sqlite_file


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers proceed during a write; NORMAL sync is durable across a process crash in WAL mode.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA cache_size=-65536")
    cursor.close()


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for ``url``; an SQLite file (and its folder) is created on first use, in WAL mode."""
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return sa.create_engine(url, **kwargs)


WRITE_TURN = 0x436C6561
"""The PostgreSQL advisory lock that `take_write_lock` takes (any constant; this one spells "Clea")."""


def take_write_lock(session: Session) -> None:
    """Begin the session's transaction by taking the store's write turn, held until it commits or rolls back.

    For work that decides from what it reads, beside other work doing the same (the tipline pipeline, bulk
    intake in one pass): each then decides from everything the others committed. On SQLite it is the database's
    write lock (``BEGIN IMMEDIATE``, unless the driver has begun the transaction already: see
    `Store.unit_of_work`); on PostgreSQL a transaction-scoped advisory lock, which other writers (intake of
    single reports, case work) never take.
    """
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        connection.execute(sa.select(sa.func.pg_advisory_xact_lock(WRITE_TURN)))
        return
    if connection.dialect.name != "sqlite":
        return
    driver = connection.connection.dbapi_connection
    if driver is not None and not driver.in_transaction:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


class Store:
    """One store: its engine and the factory of units of work over it."""

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.url = url
        self.engine = make_engine(url, **engine_kwargs)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        sqlite = self.engine.dialect.name == "sqlite"
        self.turn = WriteTurn(active=sqlite, database=sqlite_file(self.engine.url.database) if sqlite else None)
        """The turn the writers of an SQLite file take (`db.turns`); inactive on PostgreSQL."""

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    def session(self) -> Session:
        """A new session; the caller decides when to commit."""
        return self._sessions()

    @contextmanager
    def unit_of_work(self, *, exclusive: bool = False, turn: bool = False) -> Iterator[Session]:
        """One transaction: committed when the block ends normally, rolled back on any error.

        ``exclusive``: take the store's write turn at the start (`take_write_lock`), so that everything the block
        reads stays current until it commits (on SQLite the driver otherwise begins a transaction at the first
        write, and reads before it see whatever was committed at the time). On an SQLite file the turn of
        `db.turns` is taken first, so that the other writers wait for it without SQLite's sleeps.

        ``turn``: take only that turn of an SQLite file (implied by ``exclusive``; nothing on PostgreSQL), for
        writes that decide nothing from their reads but should not keep other writers sleeping.
        """
        with self.turn.held() if exclusive or turn else nullcontext():
            session = self._sessions()
            try:
                if exclusive:
                    take_write_lock(session)
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise
            finally:
                session.close()

    def upgrade(self) -> None:
        """Apply every migration not yet applied."""
        from clearinghouse.db.migrate import upgrade

        upgrade(self.engine)

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()


def open_store(url: str | None = None, *, upgrade: bool = True) -> Store:
    """The configured store (or ``url``), migrated to the newest schema and with the directory of
    jurisdictions and agencies loaded, unless told not to upgrade."""
    from clearinghouse.config import get_settings

    store = Store(url or get_settings().resolved_database_url)
    if upgrade:
        store.upgrade()
        from clearinghouse.geo.agencies import seed_directory

        with store.unit_of_work() as session:
            seed_directory(session)
    return store
