"""Engines and units of work for the embedded SQLite store and for PostgreSQL."""

from __future__ import annotations

import shlex
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

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


def _bind_without_lookups() -> None:
    """Have Python's SQLite driver bind None and bytes as it binds int and str, without looking for an adapter.

    Python 3.11's driver binds int, float, str and bytearray directly, but for None and bytes it first looks for
    an adapter: a miss in its registry, then two attribute look-ups that each raise and discard an
    AttributeError, about 2,000 instructions per value, before binding NULL or a blob as it would have anyway.
    Bulk intake binds several such values per row (a report's empty columns, its files' digests). Registered
    adapters are found at once: None comes back as None and bytes as the same object, so what is stored does not
    change; `executemany` of rows with eight such values ran 40% faster (measured with callgrind on the import:
    2% fewer instructions per report; see bench/cython_experiment.md)."""
    import sqlite3

    as_null = cast("Callable[[None], None]", {}.get)  # {}.get(None) is None, called without a Python frame
    sqlite3.register_adapter(type(None), as_null)
    sqlite3.register_adapter(bytes, bytes)  # bytes(b) is b for a bytes object


def expand_home(url: str) -> str:
    """``url`` with the home folder of an SQLite path starting with ``~`` (``sqlite:///~/x.db``) written out, as a
    shell would for a path: SQLite itself would read ``~`` as a folder of that name. Anything else is returned as
    given (a text that is no URL too: `open_store` says what is wrong with it)."""
    try:
        parsed = sa.engine.make_url(url)
    except (sa.exc.ArgumentError, ValueError):
        return url
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or not database or not database.startswith("~"):
        return url
    return parsed.set(database=str(Path(database).expanduser())).render_as_string(hide_password=False)


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for ``url`` (``~`` expanded: `expand_home`); an SQLite file (and its folder) is created on first
    use, in WAL mode."""
    url = expand_home(url)
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        _bind_without_lookups()
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
    else:
        begin_on_sqlite(session)


def begin_on_sqlite(session: Session) -> None:
    """On SQLite, begin the session's transaction now (``BEGIN IMMEDIATE``: the database's write lock), unless it
    has begun. Python's driver begins one only before the first INSERT, UPDATE or DELETE, so a SAVEPOINT before
    it would begin a transaction of its own, and releasing the savepoint would commit that piece alone. Nothing
    on other stores."""
    connection = session.connection()
    driver = connection.connection.dbapi_connection
    if connection.dialect.name == "sqlite" and driver is not None and not driver.in_transaction:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


ANALYSIS_LIMIT = 1000
"""Index entries SQLite samples per index when it refreshes its statistics (`optimize`)."""


def optimize(session: Session) -> None:
    """Let SQLite refresh the statistics of the tables this connection has searched through an index, as SQLite
    advises after large changes (``PRAGMA optimize``: tables never measured, or grown much since). Without them
    its planner may take a bank's index over a hash value's and read the whole bank for one value. The sample
    is bounded (:data:`ANALYSIS_LIMIT`), so it takes milliseconds on millions of rows. Nothing on PostgreSQL,
    whose autovacuum keeps its statistics."""
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        return
    connection.exec_driver_sql(f"PRAGMA analysis_limit={ANALYSIS_LIMIT}")
    connection.exec_driver_sql("PRAGMA optimize")
    connection.exec_driver_sql("PRAGMA analysis_limit=0")


class Store:
    """One store: its engine and the factory of units of work over it."""

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.url = expand_home(url)
        self.engine = make_engine(self.url, **engine_kwargs)
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


BACKENDS = ("sqlite", "postgresql")
"""The kinds of database a store can be."""


def open_store(url: str | None = None, *, upgrade: bool = True) -> Store:
    """The configured store (or ``url``), migrated to the newest schema and with the directory of
    jurisdictions and agencies loaded, unless told not to upgrade.

    Upgrading creates a missing SQLite file (and its folder). It changes nothing, raising `StoreError`, when the
    URL names no SQLite or PostgreSQL database that can be reached, when the database holds another
    application's tables, or when a version unknown to this one migrated it.
    """
    if not upgrade:
        return Store(_configured(url))
    text, parsed = _resolve(url, create=True)
    revision, tables = _state(parsed)
    if revision is None and tables:
        raise _foreign(parsed, tables)
    if revision is not None:
        _require_known(parsed, revision)
    store = _store(text, parsed)
    try:
        store.upgrade()
        from clearinghouse.geo.agencies import seed_directory

        with store.unit_of_work() as session:
            seed_directory(session)
    except BaseException:
        store.dispose()
        raise
    return store


def open_existing_store(url: str | None = None, *, current: bool = True) -> Store:
    """The configured store (or ``url``) as it is: nothing is created, migrated or loaded into it.

    For the commands, which must leave a store they are merely pointed at alone (only `db upgrade` and `demo`
    make one). `StoreError`, saying what to run, when there is no store (a missing SQLite file) or it cannot be
    reached or read; and, when ``current``, unless it is a store of this version (at the newest revision).
    """
    text, parsed = _resolve(url, create=False)
    revision, tables = _state(parsed)  # reached and read, whatever is asked
    if current:
        _require_current(parsed, revision, tables, url)
    return _store(text, parsed)


def _configured(url: str | None) -> str:
    """``url``, else the configured store's, with ``~`` expanded (`expand_home`)."""
    from clearinghouse.config import get_settings

    return expand_home(url or get_settings().resolved_database_url)


def _where(url: sa.URL) -> str:
    """How messages name a store: an SQLite file by its path, a server's database by its URL (password hidden)."""
    if url.get_backend_name() == "sqlite":
        return url.database or "the in-memory SQLite store"
    return url.render_as_string(hide_password=True)


def _upgrade_hint(url: str | None, parsed: sa.URL) -> str:
    """The command that makes or migrates the store: with ``--url`` when the store was named by one."""
    if url is None:
        return "clearinghouse db upgrade"
    return f"clearinghouse db upgrade --url {shlex.quote(parsed.render_as_string(hide_password=True))}"


def _resolve(url: str | None, *, create: bool) -> tuple[str, sa.URL]:
    """``url`` (default: the configured store's), checked to name an SQLite or PostgreSQL database and, unless
    ``create``, an SQLite file that exists (SQLite would otherwise create an empty one on connecting)."""
    from clearinghouse.errors import StoreError

    text = _configured(url)
    try:
        parsed = sa.engine.make_url(text)
    except (sa.exc.ArgumentError, ValueError):
        raise StoreError(
            f"{text!r} is not a database URL; give sqlite:///PATH or postgresql+psycopg://USER@HOST/NAME"
        ) from None
    backend = parsed.get_backend_name()
    if backend not in BACKENDS:
        raise StoreError(f"{_where(parsed)}: a store is an SQLite or a PostgreSQL database, not {backend}")
    if backend == "sqlite":
        _check_sqlite_file(parsed, url, create=create)
    return text, parsed


def _check_sqlite_file(parsed: sa.URL, url: str | None, *, create: bool) -> None:
    """An SQLite store must be a file: one that exists, unless ``create``, and otherwise one that can be made."""
    from clearinghouse.errors import StoreError

    database = parsed.database
    if not database or database == ":memory:":
        raise StoreError("an in-memory SQLite store starts empty and vanishes when closed; give sqlite:///PATH")
    path = Path(database)
    if path.is_dir():
        raise StoreError(f"{path} is a folder, not a store")
    if path.exists():
        return
    if not create:
        raise StoreError(f"no store at {path}; create it with: {_upgrade_hint(url, parsed)}")
    nearest = next(folder for folder in path.absolute().parents if folder.exists())
    if not nearest.is_dir():
        raise StoreError(f"cannot create the store at {path}: {nearest} is a file, not a folder")


@contextmanager
def _reaching(parsed: sa.URL) -> Iterator[None]:
    """What stops a store being reached or read, as a `StoreError` naming it."""
    from clearinghouse.db.revisions import SeveralRevisions
    from clearinghouse.errors import StoreError

    where = _where(parsed)
    try:
        yield
    except (ImportError, sa.exc.ArgumentError) as error:  # the driver named, or the one the URL implies
        raise StoreError(f"{where}: no driver {parsed.drivername!r} here ({error})") from None
    except sa.exc.DBAPIError as error:  # unreachable, refused, not a database file
        raise StoreError(f"cannot open the store at {where}: {' '.join(str(error.orig).split())}") from None
    except SeveralRevisions as error:
        raise StoreError(f"{where}: {error}") from None
    except OSError as error:  # the SQLite file's folder could not be made
        raise StoreError(f"cannot create the store at {where}: {error.strerror or error}") from None


def _state(parsed: sa.URL) -> tuple[str | None, list[str]]:
    """The revision of the database at ``parsed``; and, when it has none, the tables it holds (another
    application's, if any). Read through a plain connection: `Store`'s would switch an SQLite file to WAL."""
    from clearinghouse.db.revisions import recorded_revision

    if parsed.get_backend_name() == "sqlite" and not Path(parsed.database or "").exists():
        return None, []  # a new file, for `open_store` to create
    with _reaching(parsed):
        probe = sa.create_engine(parsed, poolclass=NullPool)
        try:
            with probe.connect() as connection:
                revision = recorded_revision(connection)
                return revision, [] if revision is not None else sa.inspect(connection).get_table_names()
        finally:
            probe.dispose()


def _store(text: str, parsed: sa.URL) -> Store:
    with _reaching(parsed):
        return Store(text)


def _foreign(parsed: sa.URL, tables: list[str]) -> Exception:
    from clearinghouse.errors import StoreError

    names = ", ".join(sorted(tables)[:3]) + (", ..." if len(tables) > 3 else "")
    where = _where(parsed)
    return StoreError(f"{where} is not a Clearinghouse store (it holds other tables: {names}); nothing was changed")


def _require_known(parsed: sa.URL, revision: str) -> None:
    from clearinghouse.db.migrate import known_revisions
    from clearinghouse.errors import StoreError

    if revision not in known_revisions():
        raise StoreError(
            f"{_where(parsed)} is at revision {revision}, which this version does not know (a newer version "
            "migrated it?); use that version; nothing was changed"
        )


def _require_current(parsed: sa.URL, revision: str | None, tables: list[str], url: str | None) -> None:
    from clearinghouse.db.revisions import HEAD_REVISION as head
    from clearinghouse.errors import StoreError

    if revision is None and tables:
        raise _foreign(parsed, tables)
    if revision is None:
        raise StoreError(f"{_where(parsed)} is empty; create the store with: {_upgrade_hint(url, parsed)}")
    if revision == head:
        return  # the usual case, decided without loading Alembic
    _require_known(parsed, revision)
    raise StoreError(
        f"{_where(parsed)} is at revision {revision}, older than this version's {head}; "
        f"migrate it with: {_upgrade_hint(url, parsed)}"
    )
