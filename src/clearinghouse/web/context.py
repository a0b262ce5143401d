"""What every request handler shares: the store, the body limits, the clock and the credential cache."""

from __future__ import annotations

import datetime as dt
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import TypeVar

from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from clearinghouse.db.base import utcnow
from clearinghouse.db.engine import Store
from clearinghouse.web.auth import CredentialCache

MAX_UPLOAD_BYTES = 64 * 1024 * 1024
"""Largest `/upload` body: the file is held in memory while it is hashed, so this bounds a worker's memory."""

MAX_FORM_BYTES = 64 * 1024
"""Largest small form (`/finish`, `/retract`, the public report form)."""

INLINE_MAX_BYTES = 64 * 1024
"""Request documents and uploads up to this size are handled on the event loop when the store is SQLite."""

EXPIRY_SWEEP_SECONDS = 300.0
"""How often the served application marks open reports past their lifetime as expired."""

T = TypeVar("T")

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: SQLite's own busy handler alone serialises the writers
    fcntl = None  # type: ignore[assignment]


@dataclass
class Limits:
    """Body size limits, in bytes."""

    xml_max_bytes: int
    upload_max_bytes: int = MAX_UPLOAD_BYTES
    form_max_bytes: int = MAX_FORM_BYTES


@dataclass
class WebContext:
    """The application's shared state (kept on `app.state.context`)."""

    store: Store
    limits: Limits
    credentials: CredentialCache = field(default_factory=CredentialCache)
    clock: Callable[[], dt.datetime] = utcnow
    """Tests replace it to move time forward (report expiry)."""
    expiry_sweep_seconds: float = EXPIRY_SWEEP_SECONDS
    _write_lock: threading.Lock = field(default_factory=threading.Lock)
    _file_lock: tuple[int, int] | None = None
    """(process id, descriptor of the SQLite file) for the lock the worker processes take turns by."""

    def _writer_turn(self) -> int | None:
        """A descriptor to `flock` so that the worker processes' SQLite writes take turns, or None.

        Without it a worker that finds the database locked by another sleeps in SQLite's busy handler, by
        steps of 1, 2, 5, 10 ... 100 ms, while the one it waits for finishes in well under a millisecond; a
        `flock` waiter wakes as soon as the lock is free. `flock` locks do not touch the POSIX locks SQLite
        takes on the same file, and the descriptor stays open for the life of the process (closing one would
        drop SQLite's locks). Opened per process: a descriptor inherited across `fork` would share the lock.
        """
        if fcntl is None or self.store.dialect != "sqlite":
            return None
        pid = os.getpid()
        if self._file_lock is None or self._file_lock[0] != pid:
            database = self.store.engine.url.database
            if not database or database == ":memory:" or database.startswith("file:") or not os.path.exists(database):
                return None
            self._file_lock = (pid, os.open(database, os.O_RDONLY | os.O_CLOEXEC))
        return self._file_lock[1]

    @contextmanager
    def writing(self, session: Session) -> Iterator[Session]:
        """A write transaction on `session`: committed at the end of the block, rolled back on error.

        SQLite has one writer at a time, and Python's driver opens its transaction only at the first write,
        after the reads that decided it; two requests changing one report could each act on what the other
        was about to change. On SQLite the write transactions of a worker therefore take turns (costing no
        throughput, since SQLite would serialise them anyway), and so do those of the worker processes, through
        a `flock` on the database file (see `_writer_turn`); PostgreSQL runs them concurrently.
        """
        guard = self._write_lock if self.store.dialect == "sqlite" else nullcontext()
        with guard:
            turn = self._writer_turn()
            if turn is not None:
                fcntl.flock(turn, fcntl.LOCK_EX)
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise
            finally:
                if turn is not None:
                    fcntl.flock(turn, fcntl.LOCK_UN)

    async def run(self, work: Callable[[], T], *, heavy: bool = False) -> T:
        """Run a handler's blocking part: inline on the event loop for light work on SQLite, else in a thread.

        Handing work to the thread pool costs about as much CPU as a small SQLite transaction, and SQLite
        runs one write at a time anyway, so on SQLite a light call is cheaper done in place. Heavy work
        (large documents, image hashing) and every PostgreSQL call, which waits on the network, go to the
        thread pool so that they never hold up the other requests of the worker.
        """
        if heavy or self.store.dialect != "sqlite":
            return await run_in_threadpool(work)
        return work()
