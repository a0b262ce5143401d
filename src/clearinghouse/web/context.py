"""What every request handler shares: the store, the body limits, the clock and the credential cache."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import threading
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any, TypeVar

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

MAX_TURN_WORK = 64
"""Most requests' write work one turn runs (SQLite; see `WebContext.write`)."""

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
    _queued: deque[tuple[Callable[[], Any], asyncio.Future[Any]]] = field(default_factory=deque)
    """Write work waiting for this worker's next turn (SQLite; see `write`)."""
    _draining: asyncio.Task[None] | None = None
    _turn_holder: int | None = None
    """The thread that holds the turn for queued work: its `writing` blocks take no lock of their own."""
    _shared: Session | None = None
    """The transaction of the turn being run, while it runs its work together (see `_run_turn`)."""

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
        if self._turn_holder == threading.get_ident():
            # Queued work run by `_drain`, which already holds both locks for it.
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise
            return
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

    async def write(self, work: Callable[[], T]) -> T:
        """Run a handler's write work, which takes its session from `write_session`; returns its result.

        On PostgreSQL the work runs in the thread pool, concurrently with other requests. On SQLite it is queued
        for this worker's next turn. A worker waiting for its turn while the other worker process writes waits
        in a thread, so its event loop goes on reading requests, parsing documents and sending answers; the
        work queued by then is run in that one turn (see `_run_turn`). Before, a worker waited with its event
        loop blocked, so the two workers seldom worked side by side.
        """
        if self.store.dialect != "sqlite":
            return await run_in_threadpool(work)
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queued.append((work, future))
        if self._draining is None:
            self._draining = asyncio.create_task(self._drain())
        return await future

    @contextmanager
    def write_session(self) -> Iterator[Session]:
        """The session for one piece of write work, committed when the work's changes are.

        Inside a turn that runs several pieces together this is the turn's session: the block's changes are
        flushed at its end (so that a failure is the block's own) and committed with the rest of the turn's.
        Otherwise it is a session of its own, committed at the end of the block as by `writing`.
        """
        shared = self._shared
        if shared is not None and self._turn_holder == threading.get_ident():
            yield shared
            shared.flush()
            return
        with self.store.session() as session, self.writing(session):
            yield session

    async def _drain(self) -> None:
        """Take turns, running the queued work, until the queue is empty."""
        try:
            while self._queued:
                await self._take_turn()
                self._turn_holder = threading.get_ident()
                try:
                    # What was queued when the turn began, and no more than a turn's worth: new work waits for
                    # the next turn, so that the other worker process gets its own in between.
                    count = min(len(self._queued), MAX_TURN_WORK)
                    taken = (self._queued.popleft() for _ in range(count))
                    # A request cancelled while it waited (its client went away) has nothing left to do.
                    self._run_turn([(work, future) for work, future in taken if not future.done()])
                finally:
                    self._turn_holder = None
                    self._give_turn()
                await asyncio.sleep(0)  # answer and read what arrived during the turn before the next one
        except BaseException:
            while self._queued:
                _, future = self._queued.popleft()
                future.cancel()
            raise
        finally:
            self._draining = None

    def _run_turn(self, pending: list[tuple[Callable[[], Any], asyncio.Future[Any]]]) -> None:
        """Run the turn's work in one transaction; if any of it fails, undo all and run each in its own.

        One commit for the turn instead of one per request: a commit is the dearest step of these small
        writes. No answer is given before its work is committed, so an acknowledged report is never lost.
        Should one piece fail (a refusal, a store failure), nothing of the turn is kept and every piece runs
        again alone, so that each request gets the answer it would have had by itself.
        """
        if len(pending) > 1:
            results = self._together([work for work, _ in pending])
            if results is not None:
                for (_, future), result in zip(pending, results, strict=True):
                    future.set_result(result)
                return
        for work, future in pending:
            try:
                result = work()
            except Exception as error:  # the request's own failure, raised where it awaits
                future.set_exception(error)
            else:
                future.set_result(result)

    def _together(self, works: list[Callable[[], Any]]) -> list[Any] | None:
        """The results of `works` run in one committed transaction, or None, with nothing written, if any failed."""
        session = self.store.session()
        self._shared = session
        try:
            results = [work() for work in works]
            session.commit()
        except Exception:
            session.rollback()
            return None
        finally:
            self._shared = None
            session.close()
        return results

    async def _take_turn(self) -> None:
        """This worker's own write lock, then the processes' `flock`: without blocking, else waiting in a thread.

        Should the task be cancelled while a thread waits (only when the server stops), the lock that thread
        then obtains is released when the process exits.
        """
        if not self._write_lock.acquire(blocking=False):
            await run_in_threadpool(self._write_lock.acquire)
        turn = self._writer_turn()
        if turn is None:
            return
        try:
            fcntl.flock(turn, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            try:
                await run_in_threadpool(fcntl.flock, turn, fcntl.LOCK_EX)
            except BaseException:
                self._write_lock.release()
                raise

    def _give_turn(self) -> None:
        turn = self._writer_turn()
        if turn is not None:
            fcntl.flock(turn, fcntl.LOCK_UN)
        self._write_lock.release()

    async def run(self, work: Callable[[], T], *, heavy: bool = False) -> T:
        """Run a handler's blocking part that writes nothing (parsing, hashing): inline or in a thread.

        Light work on SQLite runs inline on the event loop, the rest in the thread pool.

        Handing work to the thread pool costs about as much CPU as a small SQLite transaction, and SQLite
        runs one write at a time anyway, so on SQLite a light call is cheaper done in place. Heavy work
        (large documents, image hashing) and every PostgreSQL call, which waits on the network, go to the
        thread pool so that they never hold up the other requests of the worker.
        """
        if heavy or self.store.dialect != "sqlite":
            return await run_in_threadpool(work)
        return work()
