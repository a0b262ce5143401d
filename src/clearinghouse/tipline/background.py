"""The pipeline in a process of its own, following the queue while bulk intake fills it.

Intake and the pipeline then use two cores instead of taking turns on one. They write to the same store: on
SQLite each transaction waits for the other's (the busy timeout), which is correct but serial, so this pays
only where there is CPU work to overlap. Run one pipeline process per SQLite store (PostgreSQL workers take
separate batches: see `queue.load_batch`).
"""

from __future__ import annotations

import multiprocessing
from multiprocessing.context import ForkServerContext, SpawnContext
from multiprocessing.sharedctypes import Synchronized
from multiprocessing.synchronize import Event

from clearinghouse.db.engine import Store
from clearinghouse.tipline import pipeline
from clearinghouse.tipline.pipeline import Clock, wall_clock

POLL_SECONDS = 0.2
"""How long the follower waits for more work when the queue is empty and intake is still going."""


def _context() -> ForkServerContext | SpawnContext:
    # Not fork: the parent has threads (a progress display, a parsing pool) whose locks a forked child would copy.
    if "forkserver" in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("forkserver")
    return multiprocessing.get_context("spawn")


def follow_queue(url: str, clock: Clock, batch_size: int, stop: Event, processed: Synchronized[int]) -> None:
    """Process the queue until ``stop`` is set and a pass that started after it finds nothing left."""
    store = Store(url)
    try:
        while True:
            # Read before the pass: a pass that starts after intake said "done" sees every committed report.
            stopping = stop.is_set()
            count = pipeline.run(store, batch_size=batch_size, clock=clock)
            with processed.get_lock():
                processed.value += count
            if count == 0:
                if stopping:
                    return
                stop.wait(POLL_SECONDS)
    finally:
        store.dispose()


class BackgroundPipeline:
    """A pipeline process over the store at ``url``; `finish` once intake is done."""

    def __init__(self, url: str, *, clock: Clock = wall_clock, batch_size: int = pipeline.BATCH_SIZE) -> None:
        context = _context()
        self._stop = context.Event()
        self._processed: Synchronized[int] = context.Value("q", 0)
        self._process = context.Process(
            target=follow_queue,
            args=(url, clock, batch_size, self._stop, self._processed),
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

    def finish(self) -> int:
        """Tell the process intake is done, wait until it has emptied the queue; how many it processed."""
        self._stop.set()
        self._process.join()
        if self._process.exitcode != 0:
            raise RuntimeError(f"the pipeline process failed (exit code {self._process.exitcode}); see its error above")
        return self.processed
