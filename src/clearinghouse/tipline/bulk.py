"""Bulk intake of NDJSON: one finished report per line, idempotent on the platform's own report id.

A line is a `BulkLine`: the platform's report id, when the platform received the report, the `ReportIntake`
and the digests of its files (never the files). Lines are validated on their own; a bad line is answered with
its number and the reason, and the good lines around it are stored. Lines are stored in chunks, one
transaction per chunk, and a line is acknowledged only once its chunk is committed: a crash loses nothing that
was acknowledged, and a retried batch creates no duplicate (lines already on file are answered as such).
Parsing and validation can run in worker processes (`workers`); storing always happens in the caller.
"""

from __future__ import annotations

import datetime as dt
import gc
import json
import multiprocessing
import re
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass, field
from functools import partial
from itertools import islice
from multiprocessing.context import BaseContext
from multiprocessing.sharedctypes import Synchronized
from multiprocessing.synchronize import Condition
from multiprocessing.util import Finalize
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError, model_validator
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from clearinghouse.db.base import utcnow
from clearinghouse.db.engine import Store
from clearinghouse.errors import validation_message
from clearinghouse.geo.ipgeo import IpResolver
from clearinghouse.tipline.fastsql import gc_paused
from clearinghouse.tipline.filing import FileDigest, FiledReport, PreparedReport, file_prepared, prepare
from clearinghouse.tipline.lines import MAX_LINE_BYTES, TOO_LONG
from clearinghouse.tipline.models import FILENAME_MAX_CHARS, FileKind
from clearinghouse.tipline.onepass import Processing, Processor, ReadyReport, file_and_process, processor_for, ready
from clearinghouse.tipline.wire_schemas import (
    CLOCK_TOLERANCE,
    MAX_ENTRIES,
    FileAnnotation,
    IntakeModel,
    Moment,
    ReportIntake,
    TooManyEntries,
    validate_bounded,
)

MAX_FILES = 1000
MAX_FILE_SIZE = 2**63 - 1
"""The largest size a store keeps (a signed 64-bit integer)."""
CHUNK_LINES = 5000
"""Lines stored per transaction: large enough to amortise a commit, small enough to bound a retry."""
STORE_ATTEMPTS = 3
"""Transactions tried per chunk when a concurrent writer conflicts with it (see `store_chunk`)."""


NOT_UTF8 = "is not UTF-8 text (it holds NUL bytes: UTF-16?); export the file as UTF-8"
HOLDS_NUL = "holds a NUL character (\\u0000), which is never stored: remove it from the text"
_NUL_ESCAPE = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")
"""`\\u0000` after an even number of backslashes: after an odd number, its backslash is itself escaped."""


def holds_nul(document: bytes) -> bool:
    """Whether valid JSON text holds a NUL character (which it can only write as an escape).

    `\\\\u0000` is a backslash followed by the letters u0000 (a Windows path, a quoted escape): a plain search
    for `\\u0000` refused it. The plain search still decides for the documents without one at all.
    """
    return b"\\u0000" in document and _NUL_ESCAPE.search(document) is not None


def _hex(length: int) -> str:
    return f"^[0-9a-fA-F]{{{length}}}$"


_KINDS = {kind.value: kind for kind in FileKind}


class BulkFile(IntakeModel):
    """One file of a report, by its hashes; the same shape as a file of the JSON API, plus its annotations."""

    kind: Literal["image", "video", "other"] = "other"
    md5: Annotated[str | None, Field(pattern=_hex(32))] = None
    sha1: Annotated[str | None, Field(pattern=_hex(40))] = None
    sha256: Annotated[str | None, Field(pattern=_hex(64))] = None
    pdq: Annotated[str | None, Field(pattern=_hex(64))] = None
    pdq_quality: Annotated[int | None, Field(ge=0, le=100)] = None
    size: Annotated[int | None, Field(ge=0, le=MAX_FILE_SIZE)] = None
    filename: Annotated[str | None, Field(max_length=FILENAME_MAX_CHARS)] = None
    annotations: list[FileAnnotation] = Field(default_factory=list, max_length=MAX_ENTRIES)

    @model_validator(mode="after")
    def _at_least_one_hash(self) -> BulkFile:
        if not (self.md5 or self.sha1 or self.sha256 or self.pdq):
            raise ValueError("a file needs at least one of md5, sha1, sha256 or pdq")
        return self

    def digest(self) -> FileDigest:
        """The filing layer's digest, hex in lower case."""
        return FileDigest(
            _KINDS[self.kind],
            self.md5.lower() if self.md5 else None,
            self.sha1.lower() if self.sha1 else None,
            self.sha256.lower() if self.sha256 else None,
            self.pdq.lower() if self.pdq else None,
            self.pdq_quality,
            self.size,
            self.filename,
            tuple(map(str, self.annotations)) if self.annotations else (),
        )


class BulkLine(IntakeModel):
    """One NDJSON line: a finished report with the platform's id for it."""

    platform_report_id: Annotated[str, Field(min_length=1, max_length=120, pattern=r"\S")]
    received_at: Moment = Field(description="When the platform made the report (not in the future).")
    report: ReportIntake
    files: list[BulkFile] = Field(default_factory=list, max_length=MAX_FILES)


@dataclass(frozen=True, slots=True)
class FieldError:
    """What is wrong with one field of a line (the offending value is not repeated: it may be personal)."""

    field: str
    message: str


@dataclass(frozen=True, slots=True)
class LineProblem:
    """A line that was not stored, and why."""

    line: int
    platform_report_id: str | None
    errors: tuple[FieldError, ...]


@dataclass(frozen=True, slots=True)
class LineOutcome:
    """A line that is on file: stored now (``created``) or already on file under its platform id."""

    line: int
    platform_report_id: str
    report_id: int
    created: bool


@dataclass
class BulkSummary:
    """Exactly which lines are on file (acknowledged: committed) and which were refused."""

    stored: list[LineOutcome] = field(default_factory=list)
    rejected: list[LineProblem] = field(default_factory=list)
    storing_seconds: float = 0.0
    """Time spent storing chunks, from each chunk's first read in its transaction to its commit, summed: the
    serial part of an import (one chunk is stored at a time), which bounds its rate however many workers parse."""

    @property
    def accepted(self) -> int:
        """Lines stored by this call."""
        return sum(1 for outcome in self.stored if outcome.created)

    @property
    def already_on_file(self) -> int:
        """Lines whose platform id was on file already (an earlier batch, or an earlier line of this one)."""
        return sum(1 for outcome in self.stored if not outcome.created)

    def as_json(self) -> dict[str, Any]:
        """The answer of the bulk endpoint and of `tipline import --json`."""
        return {
            "accepted": self.accepted,
            "already_on_file": self.already_on_file,
            "rejected": len(self.rejected),
            "reports": [
                {
                    "line": o.line,
                    "platform_report_id": o.platform_report_id,
                    "report_id": o.report_id,
                    "status": "accepted" if o.created else "already_on_file",
                }
                for o in self.stored
            ],
            "errors": [
                {
                    "line": p.line,
                    "platform_report_id": p.platform_report_id,
                    "errors": [{"field": e.field, "message": e.message} for e in p.errors],
                }
                for p in self.rejected
            ],
        }


ParsedLine = tuple[int, PreparedReport] | tuple[int, ReadyReport] | LineProblem


def _ref_of_bad_line(raw: bytes) -> str | None:
    """The platform id of a line that failed validation, if it can be read at all (to help the platform)."""
    try:
        document = json.loads(raw)
    except (ValueError, RecursionError):  # RecursionError: nested deeper than Python's parser goes
        return None
    ref = document.get("platform_report_id") if isinstance(document, dict) else None
    return ref if isinstance(ref, str) and 0 < len(ref) <= 120 else None


def parse_line(number: int, raw: bytes, *, now: dt.datetime) -> tuple[int, PreparedReport] | LineProblem:
    """A line validated and turned into rows to store, or the problems that keep it out."""
    if len(raw) > MAX_LINE_BYTES:
        return LineProblem(number, None, (FieldError("(line)", TOO_LONG),))
    try:
        line = validate_bounded(BulkLine, raw)
    except TooManyEntries as error:
        return LineProblem(number, _ref_of_bad_line(raw), (FieldError("report", str(error)),))
    except ValidationError as error:
        errors = tuple(
            FieldError(".".join(str(part) for part in item["loc"]) or "(line)", validation_message(item))
            for item in error.errors(include_url=False, include_input=False)
        )
        if b"\x00" in raw:
            errors = (FieldError("(line)", NOT_UTF8), *errors)
        return LineProblem(number, _ref_of_bad_line(raw), errors)
    if holds_nul(raw):
        # Valid JSON, but no store keeps a NUL character in text (PostgreSQL refuses it outright).
        shown = line.platform_report_id.replace("\x00", "\\u0000")
        return LineProblem(number, shown, (FieldError("(line)", HOLDS_NUL),))
    if line.received_at > now + CLOCK_TOLERANCE:
        problem = FieldError("received_at", f"is in the future (our clock says {now.isoformat(timespec='seconds')})")
        return LineProblem(number, line.platform_report_id, (problem,))
    too_late = line.report.incident_after(line.received_at)
    if too_late is not None:
        return LineProblem(number, line.platform_report_id, (FieldError("report.incident_at", too_late),))
    filed = FiledReport(
        intake=line.report,
        received_at=line.received_at.astimezone(dt.UTC),
        platform_ref=line.platform_report_id,
        files=[file.digest() for file in line.files],
    )
    return number, prepare(filed)


def parse_chunk(
    lines: Sequence[tuple[int, bytes]],
    now: dt.datetime,
    ready_for: str | None = None,
    ip_resolver: IpResolver | None = None,
) -> list[ParsedLine]:
    """`parse_line` over a chunk (the unit of work of a parsing process); with ``ready_for`` (a database's
    dialect name), each report is also made ready to be filed and processed in one pass (`onepass.ready`,
    locating IP addresses with ``ip_resolver``)."""
    with gc_paused():
        parsed = [parse_line(number, raw, now=now) for number, raw in lines]
        if ready_for is None:
            return list(parsed)
        return [
            item if isinstance(item, LineProblem) else (item[0], ready(item[1], ready_for, ip_resolver))
            for item in parsed
        ]


Transaction = Callable[[], AbstractContextManager[Session]]
"""Opens one write transaction: committed when the block ends normally, rolled back on an error. An import's
take the SQLite file's write turn (`Store.unit_of_work`): a server's writers then wait for a chunk without
SQLite's sleeps. (A chunk stored with processing also takes the store's write lock, `onepass`.)"""


def store_chunk(
    transaction: Transaction,
    *,
    platform_id: int,
    actor: str,
    parsed: Sequence[ParsedLine],
    summary: BulkSummary,
    processor: Processor | None = None,
) -> None:
    """Store the good lines of one parsed chunk in one transaction; record every line's outcome in ``summary``.

    With a ``processor``, the reports are stored already through the pipeline (`onepass`); without, they wait in
    its queue. The outcomes are added only after the commit, so the summary never acknowledges a line that is
    not durable.
    """
    good = [item for item in parsed if not isinstance(item, LineProblem)]
    problems = [item for item in parsed if isinstance(item, LineProblem)]
    outcomes: list[LineOutcome] = []
    if good:
        for attempt in range(1, STORE_ATTEMPTS + 1):
            try:
                with gc_paused(), transaction() as session:
                    started = time.perf_counter()
                    reports = [r for _, r in good]
                    if processor is None:
                        prepared = [r for r in reports if isinstance(r, PreparedReport)]
                        if len(prepared) != len(reports):
                            raise TypeError("lines made ready for one pass must be stored with processing")
                        result = file_prepared(session=session, platform_id=platform_id, reports=prepared, actor=actor)
                    else:
                        made_ready = [r for r in reports if isinstance(r, ReadyReport)]
                        if len(made_ready) != len(reports):
                            raise TypeError("lines to store with processing must be parsed with ready_for")
                        result = file_and_process(
                            session=session,
                            platform_id=platform_id,
                            reports=made_ready,
                            actor=actor,
                            processor=processor,
                        )
                summary.storing_seconds += time.perf_counter() - started
                break
            except IntegrityError:
                # Another writer filed one of these platform ids (or took the next report ids) between our look-up
                # and our insert. Taken again, the look-up sees its rows: the line is answered as already on file.
                if attempt == STORE_ATTEMPTS:
                    raise
        outcomes = [
            LineOutcome(number, str(report.platform_ref), report_id, created)
            for (number, report), report_id, created in zip(good, result.report_ids, result.created_flags, strict=True)
        ]
    summary.stored.extend(outcomes)
    summary.rejected.extend(problems)


def _chunks(lines: Iterable[tuple[int, bytes]], size: int) -> Iterator[list[tuple[int, bytes]]]:
    iterator = iter(lines)
    while chunk := list(islice(iterator, size)):
        yield chunk


def import_lines(
    store: Store,
    *,
    platform_id: int,
    actor: str,
    lines: Iterable[tuple[int, bytes]],
    chunk_lines: int = CHUNK_LINES,
    workers: int = 0,
    now: dt.datetime | None = None,
    on_chunk: Callable[[int], None] | None = None,
    processing: Processing | None = None,
) -> BulkSummary:
    """Validate and store numbered NDJSON lines, one transaction per chunk; ``on_chunk`` hears how many
    lines each stored chunk held.

    With ``processing``, each chunk is stored already processed through release (`onepass`); without, the
    reports wait in the pipeline's queue. With ``workers`` > 0, that many processes parse the lines; when
    processing, each of them also stores its chunks (taking turns: see `_work_on_chunk`), so that the stores
    of one chunk overlaps the parsing of the next; otherwise this process stores what they parsed.
    """
    now = now or utcnow()
    summary = BulkSummary()
    if workers > 0 and processing is not None:
        return _import_in_workers(
            store,
            platform_id=platform_id,
            actor=actor,
            lines=lines,
            chunk_lines=chunk_lines,
            workers=workers,
            now=now,
            on_chunk=on_chunk,
            processing=processing,
        )
    with ExitStack() as stack:
        processor = stack.enter_context(processor_for(store, processing)) if processing is not None else None

        def store_parsed(chunk_size: int, parsed: list[ParsedLine]) -> None:
            store_chunk(
                partial(store.unit_of_work, turn=True),
                platform_id=platform_id,
                actor=actor,
                parsed=parsed,
                summary=summary,
                processor=processor,
            )
            if on_chunk is not None:
                on_chunk(chunk_size)

        if workers <= 0:
            ready_for = store.dialect if processor is not None else None
            resolver = processor.ip_resolver if processor is not None else None
            for chunk in _chunks(lines, chunk_lines):
                # The collector stays paused across a chunk's parsing and storing: between the two it would walk
                # the whole parsed chunk (hundreds of thousands of objects), again and again. The chunk's cyclic
                # garbage is collected once it is stored, from the young generation only (as `_work_on_chunk`).
                with gc_paused():
                    store_parsed(len(chunk), parse_chunk(chunk, now, ready_for, resolver))
                    gc.collect(0)
            return summary
        # Into the queue, parsed by the workers and stored here.
        # The collector stays paused while chunks come back from the parsing processes too: the pool's thread
        # unpickles them whenever they arrive, and with the collector on that cost five times as much (a chunk is
        # hundreds of thousands of fresh objects, each collection walking them all). Each stored chunk's cyclic
        # garbage (a few objects of the database session) is collected at once, from the young generation only.
        with gc_paused(), ProcessPoolExecutor(max_workers=workers, mp_context=_pool_context()) as pool:
            # A bounded window of chunks in flight keeps memory flat however long the input is.
            in_flight: deque[tuple[int, Future[list[ParsedLine]]]] = deque()
            for chunk in _chunks(lines, chunk_lines):
                in_flight.append((len(chunk), pool.submit(parse_chunk, chunk, now)))
                if len(in_flight) > workers + 1:
                    size, future = in_flight.popleft()
                    store_parsed(size, future.result())
                    gc.collect(0)
            while in_flight:
                size, future = in_flight.popleft()
                store_parsed(size, future.result())
                gc.collect(0)
    return summary


def _pool_context() -> BaseContext:
    # Not fork: the caller may have threads (a progress display, a server) whose locks a forked child would copy.
    methods = multiprocessing.get_all_start_methods()
    if "forkserver" not in methods:
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    # The fork server imports this module once, and each worker is forked from it with everything imported: a
    # worker then starts in milliseconds rather than importing the application itself (about a second of CPU
    # each). Has no effect once the fork server runs (it started with what it had).
    context.set_forkserver_preload([__name__])
    return context


@dataclass
class _Worker:
    """What a worker process of `_import_in_workers` keeps between chunks."""

    store: Store
    processor: Processor
    turns: Turns
    resources: ExitStack


@dataclass
class Turns:
    """Chunks are stored in the order they were read, one at a time, whichever worker parsed them first: the
    number of the next chunk to store, and a condition to wait on it."""

    next: Synchronized[int]
    changed: Condition

    @contextmanager
    def turn(self, number: int) -> Iterator[None]:
        """Wait for chunk ``number``'s turn; hand the turn on at the end of the block, even on an error (the
        caller then raises it, and later chunks are not kept waiting)."""
        with self.changed:
            self.changed.wait_for(lambda: self.next.value == number)
        try:
            yield
        finally:
            with self.changed:
                self.next.value = number + 1
                self.changed.notify_all()


_worker: _Worker | None = None


def _start_worker(url: str, processing: Processing, turns: Turns) -> None:
    """Open the store and build the processor once per worker process."""
    global _worker
    resources = ExitStack()
    store = Store(url)
    resources.callback(store.dispose)
    processor = resources.enter_context(processor_for(store, processing))
    _worker = _Worker(store, processor, turns, resources)
    # The pool ends its workers when it shuts down: release the matcher's threads, the IP database and the store's
    # connections as the process exits (a finalizer: worker processes end without running `atexit` handlers).
    Finalize(None, resources.close, exitpriority=10)


_Outcomes = tuple[list[int], list[str], list[int], list[bool]]
"""Stored lines as columns (line numbers, platform ids, report ids, created flags): a tenth of the cost of
pickling each `LineOutcome` back to the importing process."""
_ChunkDone = tuple[_Outcomes, list[LineProblem], float]
"""What a worker sends back for a chunk: its stored lines, its refused lines and the seconds spent storing it."""


def _work_on_chunk(
    number: int, lines: Sequence[tuple[int, bytes]], now: dt.datetime, platform_id: int, actor: str
) -> _ChunkDone:
    """Parse chunk ``number``, then store it processed in its turn: the turn is taken before the transaction and
    handed on after its commit, so chunks are stored in the order they were read, exactly as one process would
    store them, each deciding from every chunk before it. The outcomes go back to the caller, which acknowledges
    them."""
    worker = _worker
    if worker is None:
        raise RuntimeError("the bulk worker was not started")
    with gc_paused():
        try:
            parsed = parse_chunk(lines, now, worker.store.dialect, worker.processor.ip_resolver)
        except BaseException:
            with worker.turns.turn(number):  # pass the turn on, or the chunks after this one would wait forever
                raise
        summary = BulkSummary()
        with worker.turns.turn(number):
            store_chunk(
                partial(worker.store.unit_of_work, turn=True),
                platform_id=platform_id,
                actor=actor,
                parsed=parsed,
                summary=summary,
                processor=worker.processor,
            )
        del parsed
        stored = summary.stored
        outcomes = (
            [o.line for o in stored],
            [o.platform_report_id for o in stored],
            [o.report_id for o in stored],
            [o.created for o in stored],
        )
        gc.collect(0)
    return outcomes, summary.rejected, summary.storing_seconds


def _import_in_workers(
    store: Store,
    *,
    platform_id: int,
    actor: str,
    lines: Iterable[tuple[int, bytes]],
    chunk_lines: int,
    workers: int,
    now: dt.datetime,
    on_chunk: Callable[[int], None] | None,
    processing: Processing,
) -> BulkSummary:
    """`import_lines` with processing, each worker process parsing and storing whole chunks."""
    summary = BulkSummary()
    context = _pool_context()
    turns = Turns(next=context.Value("q", 0), changed=context.Condition())
    arguments = (store.url, processing, turns)
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_start_worker, initargs=arguments) as pool:
        in_flight: deque[tuple[int, Future[_ChunkDone]]] = deque()

        def collect() -> None:
            size, future = in_flight.popleft()
            stored, rejected, seconds = future.result()
            summary.stored.extend(map(LineOutcome, *stored))
            summary.rejected.extend(rejected)
            summary.storing_seconds += seconds
            if on_chunk is not None:
                on_chunk(size)

        # Chunks are handed out in order, so the chunk whose turn it is has always been taken by a worker.
        for number, chunk in enumerate(_chunks(lines, chunk_lines)):
            in_flight.append((len(chunk), pool.submit(_work_on_chunk, number, chunk, now, platform_id, actor)))
            if len(in_flight) > 2 * workers:
                collect()
        while in_flight:
            collect()
    return summary
