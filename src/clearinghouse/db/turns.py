"""The write turn of an SQLite file: the writers of every process (web workers, the pipeline, bulk imports) take
turns through it instead of through SQLite's busy handler.

SQLite lets one writer at a time in, and makes the others wait by sleeping, in steps of 1, 2, 5, 10 ... 100 ms,
while the one they wait for may finish in well under a millisecond. A `flock` waiter wakes as soon as the lock is
free, and can wait in a thread while its process goes on with other work. `flock` locks do not touch the POSIX
locks SQLite takes on the same file. A `flock` belongs to an open file, not to a thread, so the threads of a
process first take turns through a lock of their own.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: SQLite's own busy handler alone serialises the writers
    fcntl = None  # type: ignore[assignment]


class WriteTurn:
    """The turn of the writers of one SQLite store: `active` (else writers never wait: PostgreSQL), and with a
    `flock` on `database` when the store is a file."""

    def __init__(self, *, active: bool, database: str | None) -> None:
        self.active = active
        self.database = database
        self.thread_lock = threading.Lock()
        """Taken first, by every writer of this process."""
        self._file: tuple[int, int] | None = None

    def _descriptor(self) -> int | None:
        """The descriptor to `flock`, opened once per process and kept open: closing any descriptor of the file
        would drop SQLite's own locks on it, and one inherited across `fork` would share the lock."""
        pid = os.getpid()
        if self._file is not None and self._file[0] == pid:
            return self._file[1]
        if fcntl is None or self.database is None or not os.path.exists(self.database):
            return None
        self._file = (pid, os.open(self.database, os.O_RDONLY | os.O_CLOEXEC))
        return self._file[1]

    def take_file(self, *, blocking: bool = True) -> bool:
        """Take the processes' lock (the thread lock must be held); False if `blocking` is off and it is taken."""
        descriptor = self._descriptor()
        if descriptor is None:
            return True
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX if blocking else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def give_file(self) -> None:
        """Give the processes' lock back."""
        descriptor = self._descriptor()
        if descriptor is not None:
            fcntl.flock(descriptor, fcntl.LOCK_UN)

    def give(self) -> None:
        """Give the turn back: the processes' lock, then the thread lock."""
        try:
            self.give_file()
        finally:
            self.thread_lock.release()

    @contextmanager
    def held(self) -> Iterator[None]:
        """Hold the turn for the block (waiting for it); no lock at all where writers do not take turns."""
        if not self.active:
            yield
            return
        self.thread_lock.acquire()
        try:
            self.take_file()
        except BaseException:
            self.thread_lock.release()
            raise
        try:
            yield
        finally:
            self.give()


def sqlite_file(url_database: str | None) -> str | None:
    """The path of an SQLite database file from a URL's database part, or None (memory, URI filenames)."""
    if not url_database or url_database == ":memory:" or url_database.startswith("file:"):
        return None
    return url_database
