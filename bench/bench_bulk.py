"""Bulk intake end to end on the embedded SQLite store: parse NDJSON, validate, store and process through
release. Prints reports per second and the peak memory.

    .venv/bin/python bench/bench_bulk.py [--reports 100000] [--workers 2] [--chunk 5000] [--queue [--overlap]]

By default each chunk is filed and processed in one pass, as `tipline import` does (`tipline/onepass.py`);
``--queue`` files the lines into the pipeline's queue and runs the pipeline after (or alongside, ``--overlap``),
the path of reports that arrive one call at a time: the peer the one-pass figure is compared with.

The lines are the simulation's calibrated traffic (estimated locations, addresses, proxies, conflicting and
missing clues, escalations, files), with 2% of them sent twice (a retried batch) and 0.5% broken. Generating
them is not timed. Figures are printed, never asserted: they depend on the machine and on its other load.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import sqlite3
import sys
import tempfile
import threading
import time
from pathlib import Path

from clearinghouse.access.service import create_platform
from clearinghouse.db.engine import open_store
from clearinghouse.simulate.tipline_feed import TiplineTraffic
from clearinghouse.tipline import pipeline
from clearinghouse.tipline.background import BackgroundPipeline
from clearinghouse.tipline.bulk import BulkLine, import_lines
from clearinghouse.tipline.onepass import Processing

STATES = ("CA", "NY", "NC", "AL", "ND", "TX", "FL", "WA")


def make_lines(count: int, seed: int, *, in_order: bool = False) -> list[bytes]:
    """``count`` distinct reports as NDJSON lines, plus retried and broken lines, in a shuffled order; or, with
    ``in_order``, in the order the platforms received the reports (an export), the retried and broken lines
    scattered through it."""
    rng = random.Random(seed)
    traffic = TiplineTraffic(year=2023, rng=rng)
    located = int(count * 0.8)
    items = [item for state in STATES for item in traffic.for_state(state, located // len(STATES))]
    items += list(traffic.international(int(count * 0.15)))
    items += list(traffic.unlocated(count - len(items)))
    if in_order:
        items.sort(key=lambda item: item.received_at)
    lines = [item.line for item in items]
    extra = rng.sample(lines, k=count // 50)  # a platform re-sends part of a batch that timed out
    broken = b'{"platform_report_id": "broken-%d", "received_at": "2023-05-01T00:00:00Z"}'
    extra += [broken % i for i in range(count // 200)]
    if not in_order:
        lines += extra
        rng.shuffle(lines)
        return lines
    for line in extra:
        lines.insert(rng.randrange(len(lines) + 1), line)
    return lines


class TreeSampler:
    """Samples this process and every process it started (and those started) from /proc (Linux): the peak of
    their summed resident memory (proportional set sizes, so that shared pages count once), and each one's CPU
    time as last seen. The bulk workers are started by a fork server, so neither `resource` nor
    `time.process_time` sees them."""

    TICK = os.sysconf("SC_CLK_TCK")
    PAGE = os.sysconf("SC_PAGE_SIZE")

    def __init__(self) -> None:
        self.peak_rss = 0
        """The peak of the summed proportional set sizes, in kB."""
        self._highest_rss = 0
        self._samples = 0
        self._own_cpu = 0.0
        self._pids: list[int] = []
        self.cpu: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _tree(self) -> list[int]:
        parents: dict[int, int] = {}
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(") ", 1)[1].split()
            except (OSError, IndexError):
                continue
            parents[int(stat.parent.name)] = int(fields[1])
        tree, frontier = [os.getpid()], [os.getpid()]
        while frontier:
            current = frontier.pop()
            children = [pid for pid, parent in parents.items() if parent == current]
            tree += children
            frontier += children
        return tree

    def sample(self) -> None:
        # The tree is walked (every process's stat read) twice a second: the workers live as long as the import.
        if self._samples % 5 == 0:
            self._pids = self._tree()
        self._samples += 1
        stats: dict[int, list[str]] = {}
        for pid in self._pids:
            try:
                stats[pid] = Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1].split()
            except (OSError, IndexError):
                continue
        for pid, fields in stats.items():
            self.cpu[pid] = (int(fields[11]) + int(fields[12])) / self.TICK
        # Reading a process's proportional set size walks its page tables (about 10 ms for 300 MB), which ten times a
        # second would take a tenth of the machine from what is measured: it is read only when the summed resident
        # size (free to read) is at a new high, where the peak of the proportional sizes can be.
        rss = sum(int(fields[21]) for fields in stats.values()) * self.PAGE
        if rss <= self._highest_rss:
            return
        self._highest_rss = rss
        pss = 0
        for pid in stats:
            try:
                memory = Path(f"/proc/{pid}/smaps_rollup").read_text()
            except OSError:
                continue
            # The proportional set size: pages the workers share with the fork server they came from (its
            # imported modules) are counted once over all processes, not once per process.
            pss += next((int(line.split()[1]) for line in memory.splitlines() if line.startswith("Pss:")), 0)
        self.peak_rss = max(self.peak_rss, pss)

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            self.sample()
        # What sampling itself cost (this thread's CPU time), to be left out of the import's.
        fields = Path(f"/proc/self/task/{threading.get_native_id()}/stat").read_text().rsplit(") ", 1)[1].split()
        self._own_cpu = (int(fields[11]) + int(fields[12])) / self.TICK

    def __enter__(self) -> TreeSampler:
        self.sample()
        self._start_cpu = dict(self.cpu)
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()

    @property
    def cpu_seconds(self) -> float:
        """CPU time of the tree during the block, the sampler's own left out (a process's last 0.1 s before it
        ended may be missed)."""
        return sum(self.cpu.values()) - sum(self._start_cpu.values()) - self._own_cpu


FLOOR_TABLES = ("tipline_reports", "tipline_files", "tipline_releases", "tipline_bundles", "audit_events")
"""What a one-pass import stores, in the order a chunk inserts it (the rows others refer to first)."""


def _report_of(table: str) -> str:
    """The SQL expression giving the report a row of ``table`` belongs to (what splits the rows into chunks)."""
    return {
        "tipline_reports": "id",
        "tipline_files": "report_id",
        "tipline_releases": "report_id",
        "tipline_bundles": "lead_report_id",
        "audit_events": "CASE subject_type WHEN 'report' THEN CAST(subject_id AS INTEGER) ELSE 0 END",
    }[table]


def store_floor(source: Path, target: Path, chunk: int) -> tuple[float, int]:
    """The peer of the import without any of our code: the rows the import ended with (read back from
    ``source``), inserted into a fresh store at ``target`` by the driver alone, ``chunk`` reports (with their
    files, releases, bundles and audit events) per transaction, with the settings the bulk writer uses. Returns
    the seconds spent inserting and committing, and the reports inserted. Nothing is parsed, validated, decided
    or converted: it is what SQLite itself needs to store an import, the part no Python can take away."""
    fresh = open_store(f"sqlite:///{target}")
    with fresh.unit_of_work() as session:
        create_platform(session=session, name="Bench Platform")
    fresh.dispose()
    read = sqlite3.connect(source)
    write = sqlite3.connect(target, isolation_level=None)
    for setting in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON", "cache_size=-65536"):
        write.execute(f"PRAGMA {setting}")
    write.execute("PRAGMA wal_autocheckpoint=50000")
    rows: dict[str, list[tuple[object, ...]]] = {}
    inserts: dict[str, str] = {}
    for table in FLOOR_TABLES:
        columns = [row[1] for row in read.execute(f"PRAGMA table_info({table})")]
        select = f"SELECT {_report_of(table)}, {', '.join(columns)} FROM {table} ORDER BY id"
        rows[table] = read.execute(select).fetchall()
        placeholders = ", ".join("?" * len(columns))
        inserts[table] = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders})"
    read.close()
    # Only events about reports: the platform's creation is in the fresh store already, and the few events about
    # bundles are left out.
    rows["audit_events"] = [row for row in rows["audit_events"] if row[0]]
    report_ids = [int(str(row[0])) for row in rows["tipline_reports"]]
    bounds = [report_ids[start] for start in range(0, len(report_ids), chunk)] + [report_ids[-1] + 1]
    split = {table: _by_bounds(table_rows, bounds) for table, table_rows in rows.items()}
    seconds = 0.0
    for index in range(len(bounds) - 1):
        started = time.perf_counter()
        write.execute("BEGIN IMMEDIATE")
        for table in FLOOR_TABLES:
            write.executemany(inserts[table], [row[1:] for row in split[table][index]])
        write.execute("COMMIT")
        seconds += time.perf_counter() - started
    write.close()
    return seconds, len(report_ids)


def _by_bounds(rows: list[tuple[object, ...]], bounds: list[int]) -> list[list[tuple[object, ...]]]:
    """``rows`` (each led by its report id, in id order) split at the report ids in ``bounds``."""
    parts: list[list[tuple[object, ...]]] = [[] for _ in range(len(bounds) - 1)]
    position = 0
    for row in sorted(rows, key=lambda row: int(str(row[0]))):
        while int(str(row[0])) >= bounds[position + 1]:
            position += 1
        parts[position].append(row)
    return parts


def validation_floor(lines: list[bytes]) -> float:
    """Seconds pydantic-core takes to validate ``lines`` as `BulkLine`s, and nothing else: the other part of
    the import that is not ours to make faster."""
    started = time.perf_counter()
    for line in lines:
        with contextlib.suppress(ValueError):  # a broken line costs its validation too
            BulkLine.model_validate_json(line)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=100_000, help="distinct reports to send")
    parser.add_argument(
        "--workers", type=int, default=2, help="processes that parse (and, in one pass, store) the lines; 0: this one"
    )
    parser.add_argument("--chunk", type=int, default=5000, help="lines per transaction, and reports per pipeline batch")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--in-order",
        action="store_true",
        help="send the reports in the order they were received (an export) rather than shuffled",
    )
    parser.add_argument(
        "--queue", action="store_true", help="file the lines into the pipeline's queue, then run the pipeline"
    )
    parser.add_argument(
        "--overlap", action="store_true", help="with --queue: run the pipeline in its own process meanwhile"
    )
    parser.add_argument(
        "--no-floor",
        action="store_true",
        help="skip the floor: the same rows stored by the driver alone, and the lines validated alone",
    )
    args = parser.parse_args()

    lines = make_lines(args.reports, args.seed, in_order=args.in_order)
    megabytes = sum(len(line) + 1 for line in lines) / 1e6
    with tempfile.TemporaryDirectory() as folder:
        store = open_store(f"sqlite:///{Path(folder) / 'bench.db'}")
        with store.unit_of_work() as session:
            platform = create_platform(session=session, name="Bench Platform").account.id
        follower = BackgroundPipeline(store.url, batch_size=args.chunk) if args.queue and args.overlap else None
        sampler = TreeSampler().__enter__()
        started = time.perf_counter()
        if follower is not None:
            follower.start()
        acknowledged: list[tuple[float, int]] = []  # (when, lines so far) at each acknowledged chunk
        summary = import_lines(
            store,
            platform_id=platform,
            actor="platform:bench",
            lines=enumerate(lines, start=1),
            chunk_lines=args.chunk,
            workers=args.workers,
            processing=None if args.queue else Processing(),
            on_chunk=lambda size: acknowledged.append(
                (time.perf_counter(), size + (acknowledged[-1][1] if acknowledged else 0))
            ),
        )
        filed = time.perf_counter()
        processed = follower.finish() if follower is not None else 0
        processed += pipeline.run(store, batch_size=args.chunk)
        if not args.queue:
            processed += summary.accepted  # in the same pass as filing
        done = time.perf_counter()
        sampler.__exit__()
        store.dispose()
        floor = None
        if not args.queue and not args.no_floor:
            store_s, stored = store_floor(Path(folder) / "bench.db", Path(folder) / "floor.db", args.chunk)
            floor = (store_s / stored, validation_floor(lines) / len(lines))

    intake_s, pipeline_s, total_s = filed - started, done - filed, done - started
    order = "in the order received" if args.in_order else "shuffled"
    print(
        f"lines sent          {len(lines):>10,}  ({megabytes:.1f} MB of NDJSON, {order}, "
        f"{args.workers} worker process(es))"
    )
    print(
        f"accepted            {summary.accepted:>10,}  already on file {summary.already_on_file:,}, "
        f"rejected {len(summary.rejected):,}"
    )
    print(f"intake              {summary.accepted / intake_s:>10,.0f} reports/s  ({intake_s:.2f} s)")
    if not args.queue:
        print(f"pipeline            {'':>10}              (in the same pass as intake: {processed:,})")
    elif args.overlap:  # the pipeline ran alongside intake: only what was left after it is its own time
        print(f"pipeline            {'':>10}              (done {pipeline_s:.2f} s after intake, {processed:,})")
    else:
        print(f"pipeline            {processed / pipeline_s:>10,.0f} reports/s  ({pipeline_s:.2f} s, {processed:,})")
    print(f"end to end          {summary.accepted / total_s:>10,.0f} reports/s  ({total_s:.2f} s)")
    if not args.queue and len(acknowledged) > 1:
        # Starting the workers (imports, the store, the banks) delays the first chunk; a year's import pays it once.
        (first_at, first_lines), (last_at, last_lines) = acknowledged[0], acknowledged[-1]
        rate = (last_lines - first_lines) / len(lines) * summary.accepted / (last_at - first_at)
        print(f"  after the first   {rate:>10,.0f} reports/s  (first chunk acknowledged {first_at - started:.2f} s in)")
    if not args.queue and summary.storing_seconds:
        # Chunks are stored one at a time: this part of the work does not spread over the cores.
        turn = summary.storing_seconds / summary.accepted
        print(f"storing (serial)    {turn * 1e6:>10.0f} µs per report in the write turn (at most {1 / turn:,.0f}/s)")
    cpu = sampler.cpu_seconds
    print(f"CPU time            {cpu:>10.2f} s, all processes ({cpu / summary.accepted * 1e6:.0f} µs per report)")
    print(f"peak memory         {sampler.peak_rss / 1024:>10,.0f} MB, all processes (the generated lines included)")
    if floor is not None:
        # The peer measured in the same minutes: what SQLite and pydantic-core alone need per report. Two cores
        # cannot beat one store at a time, nor share more than two cores' worth of the two.
        store_us, valid_us = (seconds * 1e6 for seconds in floor)
        best = min(1e6 / store_us, 2e6 / (store_us + valid_us))
        print(f"floor: store alone  {store_us:>10.0f} µs per report (the same rows, inserted by the driver alone)")
        print(f"floor: validation   {valid_us:>10.0f} µs per line (pydantic-core alone, one process)")
        print(f"floor: best 2 cores {best:>10,.0f} reports/s if none of our code took any time")
    if processed != summary.accepted:
        sys.exit(f"the pipeline processed {processed:,} reports, but {summary.accepted:,} were accepted")


if __name__ == "__main__":
    main()
