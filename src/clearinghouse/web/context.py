"""What every request handler shares: the store, the body limits, the clock, the credential cache and the guards."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from clearinghouse.db.base import utcnow
from clearinghouse.db.engine import Store, take_write_lock
from clearinghouse.web.auth import CredentialCache, PlatformPrincipal, UserPrincipal
from clearinghouse.web.signin import SignInGuard
from clearinghouse.web.throttle import Throttle

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


@dataclass(frozen=True, slots=True)
class _Refused:
    """A piece of a turn's work that failed on its own and was undone alone (see `WebContext._together`)."""

    error: Exception


class _TurnLost(Exception):
    """The turn's whole transaction was rolled back (see `WebContext._piece`)."""


def _settle(future: asyncio.Future[Any], outcome: Any) -> None:
    """Answer a waiting call with its piece's result, or with the error it was refused with."""
    if isinstance(outcome, _Refused):
        future.set_exception(outcome.error)
    else:
        future.set_result(outcome)


def _fail(future: asyncio.Future[Any], error: BaseException) -> None:
    """End a waiting call with `error`, or cancel it if `error` stops the process rather than the call."""
    if future.done():
        return
    if isinstance(error, Exception):
        future.set_exception(error)
    else:
        future.cancel()


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
    credentials: CredentialCache[PlatformPrincipal] = field(default_factory=CredentialCache)
    user_credentials: CredentialCache[UserPrincipal] = field(default_factory=CredentialCache)
    """Users' verified credentials, apart from platforms': a user name means nothing in the other cache."""
    clock: Callable[[], dt.datetime] = utcnow
    """Tests replace it to move time forward (report expiry)."""
    expiry_sweep_seconds: float = EXPIRY_SWEEP_SECONDS
    public_throttle: Throttle | None = None
    """How many reports the public form takes from one address (none: any number)."""
    sign_in_guard: SignInGuard | None = None
    """How many failed sign-ins an address may make before it is refused unverified (none: any number)."""
    _queued: deque[tuple[Callable[[], Any], asyncio.Future[Any]]] = field(default_factory=deque)
    """Write work waiting for this worker's next turn (SQLite; see `write`)."""
    _draining: asyncio.Task[None] | None = None
    _turn_holder: int | None = None
    """The thread that holds the turn for queued work: its `writing` blocks take no lock of their own."""
    _shared: Session | None = None
    """The transaction of the turn being run, while it runs its work together (see `_run_turn`)."""
    _turn_waiter: ThreadPoolExecutor | None = None
    """The thread that waits for the turn while the event loop goes on (see `_take_turn`)."""

    @contextmanager
    def writing(self, session: Session) -> Iterator[Session]:
        """A write transaction on `session`: committed at the end of the block, rolled back on error.

        SQLite has one writer at a time, and Python's driver opens its transaction only at the first write,
        after the reads that decided it; two requests changing one report could each act on what the other
        was about to change. On SQLite the write transactions therefore take the store's write turn
        (`db.turns`: a lock among the threads of the worker, a `flock` among the processes), costing no
        throughput since SQLite would serialise them anyway; PostgreSQL runs them concurrently.
        """
        # Queued work run by `_drain` comes here holding the turn already.
        in_turn = self._turn_holder == threading.get_ident()
        with nullcontext() if in_turn else self.store.turn.held():
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

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
                try:
                    await self._take_turn()
                except Exception as error:  # no turn to be had (the lock file failed): every waiting call fails
                    self._fail_queued(error)
                    continue
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
                    self.store.turn.give()
                await asyncio.sleep(0)  # answer and read what arrived during the turn before the next one
        except BaseException as error:
            self._fail_queued(error)
            raise
        finally:
            self._draining = None

    def _fail_queued(self, error: BaseException) -> None:
        """End every call still waiting: with `error` (answered as the error middleware answers it), or
        cancelled when the process is stopping."""
        while self._queued:
            _, future = self._queued.popleft()
            _fail(future, error)

    def _run_turn(self, pending: list[tuple[Callable[[], Any], asyncio.Future[Any]]]) -> None:
        """Run the turn's work in one transaction, each piece in a savepoint of its own; if the transaction
        itself fails, undo all and run each piece in its own.

        One commit for the turn instead of one per request: a commit is the dearest step of these small
        writes. No answer is given before its work is committed, so an acknowledged report is never lost. A
        piece that fails (a refusal, a store failure) is undone alone and the others are kept: each piece sees
        what the pieces before it did, as it would have run alone after them, so each request gets the answer it
        would have had by itself. Should the commit fail, nothing of the turn is kept and every piece runs
        again alone.
        """
        try:
            if len(pending) > 1:
                outcomes = self._together([work for work, _ in pending])
                if outcomes is not None:
                    for (_, future), outcome in zip(pending, outcomes, strict=True):
                        _settle(future, outcome)
                    return
            for work, future in pending:
                try:
                    result = work()
                except Exception as error:  # the request's own failure, raised where it awaits
                    future.set_exception(error)
                else:
                    future.set_result(result)
        except Exception as error:  # the turn itself failed (not one piece): its requests fail, the next turn runs
            for _, future in pending:
                _fail(future, error)
        except BaseException as error:  # the process is stopping: no request of the turn is left waiting
            for _, future in pending:
                _fail(future, error)
            raise

    def _together(self, works: list[Callable[[], Any]]) -> list[Any] | None:
        """The outcomes of `works` run in one committed transaction: each one's result, or `_Refused` with the
        error of one that failed and was undone alone. None, with nothing written, if the transaction failed.

        The transaction is begun here (`BEGIN IMMEDIATE`), before the first savepoint. Python's SQLite driver
        otherwise begins it only before the first INSERT, UPDATE or DELETE: the first SAVEPOINT would begin a
        transaction of its own, and releasing it would commit the first piece alone.
        """
        session = self.store.session()
        self._shared = session
        try:
            take_write_lock(session)
            driver = session.connection().connection.dbapi_connection
            outcomes = [self._piece(session, driver, work) for work in works]
            session.commit()
        except Exception:
            session.rollback()
            return None
        finally:
            self._shared = None
            session.close()
        return outcomes

    @staticmethod
    def _piece(session: Session, driver: Any, work: Callable[[], Any]) -> Any:
        """Run one piece of a turn in a savepoint: its result, or `_Refused` once it is undone.

        The savepoint is the driver's own: SQLAlchemy's (`Session.begin_nested`) doubled the CPU of a turn of
        small pieces, and the interface's work writes through Core statements, without the ORM's flush.
        A flush that fails rolls back the session's whole transaction; so does SQLite itself on some failures
        (a full disk, an I/O error). The pieces already run are then gone too: the turn is given up (undoing
        the savepoint fails, or `_TurnLost`) rather than go on outside any transaction, committing each
        piece's writes as they come.
        """
        driver.execute("SAVEPOINT piece")
        try:
            result = work()
        except Exception as error:
            driver.execute("ROLLBACK TO piece")
            driver.execute("RELEASE piece")
            # Objects the piece attached may stand for rows now undone, whose ids the next INSERT takes again.
            session.expunge_all()
            outcome: Any = _Refused(error)
        else:
            driver.execute("RELEASE piece")
            outcome = result
        # PostgreSQL's driver has no such flag: a failed statement leaves its transaction until rolled back to
        # the savepoint (the turn runs on SQLite only; `WebContext.write`).
        if not getattr(driver, "in_transaction", True):
            raise _TurnLost
        return outcome

    async def _take_turn(self) -> None:
        """The store's write turn: without blocking if it is free, else waiting in a thread.

        The waits use a thread of their own, never the pool that runs requests: were every pooled thread a
        request waiting for the turn this task is about to hold, a wait queued behind them would never run.
        """
        turn = self.store.turn
        if not turn.thread_lock.acquire(blocking=False):
            await self._wait(turn.thread_lock.acquire, turn.thread_lock.release)
        try:
            if not turn.take_file(blocking=False):
                await self._wait(turn.take_file, turn.give_file)
        except BaseException:
            turn.thread_lock.release()
            raise

    async def _wait(self, take: Callable[[], object], give: Callable[[], None]) -> None:
        """Wait in the turn's thread until `take` returns. Cancelled meanwhile (the server is stopping), the
        thread still gets what it waits for, so it is given back then (`give`) rather than held for good."""
        if self._turn_waiter is None:
            self._turn_waiter = ThreadPoolExecutor(max_workers=1, thread_name_prefix="write-turn")
        waiting = self._turn_waiter.submit(take)
        try:
            await asyncio.wrap_future(waiting)
        except asyncio.CancelledError:
            waiting.add_done_callback(lambda done: give() if done.exception() is None else None)
            raise

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
