"""The pipeline in a process of its own, following the queue while reports arrive (`clearinghouse serve` runs
one beside the web workers).

Intake and the pipeline then use two cores instead of taking turns on one. They write to the same store: on
SQLite each transaction waits for the other's (the busy timeout), which is correct but serial. On SQLite a
batch holds the write lock from its first read (`pipeline.run`), so keep batches small where requests wait
for it. The process stops when told to, and also when its parent dies, even by SIGKILL: a pipeline left
behind would go on writing to a store whose server is gone.
"""

from __future__ import annotations

import multiprocessing
import os
from multiprocessing.context import SpawnContext
from multiprocessing.sharedctypes import Synchronized
from multiprocessing.synchronize import Event

from clearinghouse.children import die_with_parent
from clearinghouse.db.engine import Store
from clearinghouse.geo.ipgeo import configured_resolver
from clearinghouse.tipline import pipeline
from clearinghouse.tipline.matching import KnownContentBanks, Matcher
from clearinghouse.tipline.pipeline import Clock, wall_clock

POLL_SECONDS = 0.2
"""How long the follower waits for more work when the queue is empty and intake is still going."""


def _context() -> SpawnContext:
    # Not fork: the parent has threads (a progress display, a parsing pool) whose locks a forked child would copy.
    # Not the fork server either: its children keep it alive, so they could not tell when the parent has died.
    return multiprocessing.get_context("spawn")


class _Halt(Exception):
    """Raised between two batches to leave `pipeline.run` at once."""


class _Banks:
    """The known-content banks, built once the store holds a bank hash and kept: the hashing matcher reads the
    hashes added since before each lookup, and confirms every hit against the store, so a removed hash stops
    matching at once (`hashing.matcher`). Not built again at every pass over an empty queue."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.built: KnownContentBanks | None = None

    def current(self) -> list[Matcher]:
        if self.built is None:
            with self.store.session() as session:
                self.built = KnownContentBanks.from_store(session)  # None (one cheap look) while no bank holds a hash
        return [self.built] if self.built is not None else []

    def close(self) -> None:
        if self.built is not None:
            self.built.close()
            self.built = None


def follow_queue(
    url: str,
    clock: Clock,
    batch_size: int,
    stop: Event,
    halt: Event,
    processed: Synchronized[int],
    parent: int,
    niceness: int = 0,
) -> None:
    """Process the queue until ``stop`` is set and a pass that started after it finds nothing left; leave after
    the batch in progress when ``halt`` is set or the process ``parent`` (which started this one) is gone. IP
    addresses are placed with the configured MaxMind database, if any."""
    die_with_parent()
    if niceness:
        os.nice(niceness)
    store = Store(url)
    banks = _Banks(store)

    def between_batches(outcome: pipeline.BatchOutcome) -> None:
        with processed.get_lock():
            processed.value += outcome.processed
        if halt.is_set() or os.getppid() != parent:
            raise _Halt

    try:
        with configured_resolver() as resolver:
            while True:
                # Read before the pass: a pass that starts after intake said "done" sees every committed report.
                stopping = stop.is_set()
                try:
                    count = pipeline.run(
                        store,
                        batch_size=batch_size,
                        clock=clock,
                        ip_resolver=resolver,
                        banks=banks.current(),
                        on_batch=between_batches,
                    )
                except _Halt:
                    return
                if halt.is_set() or os.getppid() != parent:
                    return
                if count == 0:
                    if stopping:
                        return
                    stop.wait(POLL_SECONDS)
    finally:
        banks.close()
        store.dispose()


class BackgroundPipeline:
    """A pipeline process over the store at ``url``; `finish` once intake is done."""

    def __init__(
        self, url: str, *, clock: Clock = wall_clock, batch_size: int = pipeline.BATCH_SIZE, niceness: int = 0
    ) -> None:
        """``niceness``: how much lower than its parent's the process's CPU priority is (Unix ``nice``)."""
        context = _context()
        self._stop = context.Event()
        self._halt = context.Event()
        self._processed: Synchronized[int] = context.Value("q", 0)
        self._process = context.Process(
            target=follow_queue,
            args=(url, clock, batch_size, self._stop, self._halt, self._processed, os.getpid(), niceness),
            name="tipline-pipeline",
            daemon=True,
        )

    def start(self) -> None:
        """Start following the queue."""
        self._process.start()

    @property
    def processed(self) -> int:
        """Reports processed so far."""
        with self._processed.get_lock():
            return int(self._processed.value)

    def close(self, timeout: float = 10.0) -> None:
        """Stop soon, whatever is still queued: after the batch in progress, if it ends within ``timeout``
        seconds; else it is stopped and rolled back (the next run takes it again)."""
        if self._process.pid is None:  # never started
            return
        self._halt.set()
        self._stop.set()
        self._process.join(timeout)
        if self._process.is_alive():
            self._process.terminate()
            self._process.join()

    def finish(self) -> int:
        """Tell the process intake is done, wait until it has emptied the queue; how many it processed."""
        self._stop.set()
        self._process.join()
        if self._process.exitcode != 0:
            raise RuntimeError(f"the pipeline process failed (exit code {self._process.exitcode}); see its error above")
        return self.processed
