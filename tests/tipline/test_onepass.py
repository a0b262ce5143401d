"""Filing and processing in one pass decides exactly what filing into the queue and running the pipeline decides:
the same locations, priorities, classifications, matches, bundles and releases, from the same messy lines."""

from __future__ import annotations

import datetime as dt
import json
import random
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from clearinghouse.access.models import AuditEvent
from clearinghouse.db.engine import Store
from clearinghouse.geo.models import Agency
from clearinghouse.simulate.tipline_feed import TiplineTraffic
from clearinghouse.tipline import pipeline
from clearinghouse.tipline.bulk import parse_chunk
from clearinghouse.tipline.filing import FILE_COLUMNS, REPORT_COLUMNS
from clearinghouse.tipline.models import Bundle, Release, Report, ReportFile
from clearinghouse.tipline.onepass import Processing, Processor
from tests.tipline.bulk_helpers import ready, send


def _messy_lines(seed: int) -> list[bytes]:
    """Located, international and unlocated reports, platform batches of a viral file, reports sharing one set of
    files (same content) days apart, a retried part of the batch, and a broken line, in a shuffled order."""
    rng = random.Random(seed)
    traffic = TiplineTraffic(year=2023, rng=rng)
    items = [*traffic.for_state("NC", 120), *traffic.for_state("CA", 50), *traffic.viral("NC", 5)]
    items += [*traffic.international(25), *traffic.unlocated(25)]
    lines = [item.line for item in items]
    with_files = [json.loads(line) for line in lines if json.loads(line)["files"]]
    for number, original in enumerate(rng.sample(with_files, 12)):
        received = dt.datetime.fromisoformat(original["received_at"])
        for copy in range(rng.randrange(1, 4)):
            later = received + dt.timedelta(days=rng.choice((0, 1, 3, 9)), hours=copy + 1)
            twin = {**original, "platform_report_id": f"twin-{number}-{copy}", "received_at": later.isoformat()}
            lines.append(json.dumps(twin).encode())
    lines += rng.sample(lines, 10)
    lines.append(b'{"platform_report_id": "broken", "received_at": "2023-05-01T00:00:00Z"}')
    rng.shuffle(lines)
    return lines


def _outcome(store: Store) -> dict[str, Any]:
    """Everything the pipeline decided, named by the platform's ids (not by row ids, which may differ)."""
    with store.session() as session:
        ref_of = {row[0]: row[1] for row in session.execute(sa.select(Report.id, Report.platform_ref))}
        lead_of_bundle = {
            bundle_id: ref_of[lead] for bundle_id, lead in session.execute(sa.select(Bundle.id, Bundle.lead_report_id))
        }
        reports = {
            row.platform_ref: (
                row.country_code,
                row.state_code,
                row.location_confidence,
                row.location_rule,
                row.priority,
                row.classification,
                lead_of_bundle.get(row.bundle_id) if row.bundle_id is not None else None,
                row.file_count,
                row.processed_at is not None,
                # What was filed, column by column: the one pass converts values itself (`onepass.ready`).
                tuple(getattr(row, name) for name in REPORT_COLUMNS),
            )
            for row in session.execute(sa.select(Report)).scalars().all()
        }
        columns = [getattr(ReportFile, name) for name in FILE_COLUMNS]
        files = sorted(
            (ref_of[report_id], file_ref.split("-")[-1], md5, seen, described, repr(filed))
            for report_id, file_ref, md5, seen, described, *filed in session.execute(
                sa.select(
                    ReportFile.report_id,
                    ReportFile.file_ref,
                    ReportFile.md5,
                    ReportFile.previously_seen,
                    ReportFile.__table__.c.details.is_not(None),  # SQL NULL, not the JSON text null
                    *columns,
                )
            )
        )
        releases = sorted(
            (ref_of[report_id], name, code, reason.split(":")[0])
            for report_id, name, code, reason in session.execute(
                sa.select(Release.report_id, Agency.name, Release.jurisdiction_code, Release.reason).join(Agency)
            )
        )
        bundles = sorted(
            (str(kind), ref_of[lead], count, reason)
            for kind, lead, count, reason in session.execute(
                sa.select(Bundle.kind, Bundle.lead_report_id, Bundle.report_count, Bundle.reason)
            )
        )
        counted = sa.select(AuditEvent.action, sa.func.count()).group_by(AuditEvent.action)
        actions = {row[0]: row[1] for row in session.execute(counted)}
    return {"reports": reports, "files": files, "releases": releases, "bundles": bundles, "actions": actions}


@pytest.mark.parametrize(("seed", "workers"), [(3, 0), (11, 0), (11, 2)])
def test_one_pass_decides_what_the_queue_decides(
    any_store: Store, tmp_path: Path, sqlite_template: Path, seed: int, workers: int
) -> None:
    lines = _messy_lines(seed)
    shutil.copyfile(sqlite_template, tmp_path / "reference.db")
    reference = Store(f"sqlite:///{tmp_path / 'reference.db'}")
    try:
        queued = send(reference, ready(reference), lines, chunk_lines=40)
        assert pipeline.run(reference, batch_size=53) == queued.accepted
        expected = _outcome(reference)
    finally:
        reference.dispose()

    summary = send(any_store, ready(any_store), lines, chunk_lines=40, workers=workers, processing=Processing())
    assert (summary.accepted, summary.already_on_file, len(summary.rejected)) == (
        queued.accepted,
        queued.already_on_file,
        1,
    )
    assert pipeline.run(any_store) == 0  # nothing was left in the queue
    found = _outcome(any_store)

    assert found["reports"] == expected["reports"]
    assert found["files"] == expected["files"]
    assert found["releases"] == expected["releases"]
    assert found["bundles"] == expected["bundles"]
    assert len(expected["bundles"]) >= 5  # the platform batches, and some same-content bundles
    assert any(seen for *_, seen, _, _ in found["files"])  # the twins' files were seen before
    assert any(described for *_, described, _ in found["files"])  # some files carry the platform's annotations
    assert not all(described for *_, described, _ in found["files"])
    # One event per report filed in one pass (filing and every step's decision), where the queue has two.
    assert found["actions"]["report.filed"] == expected["actions"]["report.filed"] == queued.accepted
    assert "report.processed" not in found["actions"]
    for action in ("bundle.opened", "report.released"):
        assert found["actions"].get(action) == expected["actions"].get(action)


def test_the_event_of_a_report_filed_in_one_pass_holds_every_decision(any_store: Store) -> None:
    lines = _messy_lines(5)[:40]
    summary = send(any_store, ready(any_store), lines, processing=Processing())
    with any_store.session() as session:
        details = session.scalars(sa.select(AuditEvent.detail).where(AuditEvent.action == "report.filed")).all()
    assert len(details) == summary.accepted
    for detail in details:
        assert detail is not None
        assert {"matched", "located", "released"} <= detail.keys()


def test_prepared_rows_fill_exactly_the_columns_one_pass_writes() -> None:
    parsed = parse_chunk([(1, _messy_lines(1)[0])], dt.datetime.now(dt.UTC))
    assert not hasattr(parsed[0], "errors")
    _, report = parsed[0]
    assert tuple(report.row) == REPORT_COLUMNS  # type: ignore[union-attr]


def test_lines_made_ready_for_one_store_are_refused_by_another(store: Store) -> None:
    platform = ready(store)
    parsed = parse_chunk([(1, _messy_lines(1)[0])], dt.datetime.now(dt.UTC), ready_for="postgresql")
    from clearinghouse.tipline.bulk import BulkSummary, store_chunk

    with pytest.raises(ValueError, match="another database"):
        store_chunk(
            store.unit_of_work,
            platform_id=platform,
            actor="t",
            parsed=parsed,
            summary=BulkSummary(),
            processor=Processor(),
        )
    with store.session() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Report)) == 0


def test_one_pass_asks_the_stores_banks_like_the_pipeline(store: Store) -> None:
    from clearinghouse.hashing import service
    from clearinghouse.hashing.models import BankKind
    from clearinghouse.hashing.schemas import BankCreate, EntryIn
    from tests.tipline.bulk_helpers import image, line, md5, report_by_ref

    platform = ready(store)
    with store.unit_of_work() as session:
        bank = service.create_bank(session=session, bank_in=BankCreate(name="K", kind=BankKind.KNOWN_ABUSE))
        service.add_entries(session=session, bank=bank, entries=[EntryIn(hashes={"md5": md5(7)})])
    send(store, platform, [line("a", files=[image(7), image(8)])], processing=Processing())
    report = report_by_ref(store, platform, "a")
    with store.session() as session:
        seen = session.execute(
            sa.select(ReportFile.md5, ReportFile.previously_seen).where(ReportFile.report_id == report.id)
        ).all()
    assert sorted((row[0], row[1]) for row in seen) == [(md5(7), True), (md5(8), False)]


def test_two_imports_at_once_each_see_what_the_other_committed(any_store: Store) -> None:
    """Two one-pass imports on one store take turns: a file's first report (lowest id) is the only one to which
    its content is new, whichever import filed which report."""
    store = any_store
    import threading

    from tests.tipline.bulk_helpers import image, line

    platform = ready(store)
    halves = [[line(f"{side}-{i}", files=[image(i % 40)]) for i in range(300)] for side in ("left", "right")]
    errors: list[BaseException] = []

    def run(lines: list[bytes]) -> None:
        own = Store(store.url)
        try:
            send(own, platform, lines, chunk_lines=25, processing=Processing())
        except BaseException as error:
            errors.append(error)
        finally:
            own.dispose()

    threads = [threading.Thread(target=run, args=(half,)) for half in halves]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    with store.session() as session:
        rows = session.execute(
            sa.select(ReportFile.md5, ReportFile.report_id, ReportFile.previously_seen).order_by(ReportFile.report_id)
        ).all()
    assert len(rows) == 600
    first: dict[str | None, int] = {}
    for md5_, report_id, seen in rows:
        first.setdefault(md5_, report_id)
        assert seen is (first[md5_] != report_id), (md5_, report_id)


def test_worker_processes_file_and_process_chunks_in_turn(store: Store) -> None:
    """With worker processes each parsing and storing whole chunks, every line is answered once, every report is
    processed with its event, and the match rule holds across chunks stored by different processes."""
    lines = _messy_lines(7)
    platform = ready(store)
    started = time.perf_counter()
    summary = send(store, platform, lines, chunk_lines=30, workers=2, processing=Processing())
    assert len(summary.stored) + len(summary.rejected) == len(lines)
    # The workers' time in the write turn comes back with their chunks: some, and no more than the import took.
    assert 0 < summary.storing_seconds < time.perf_counter() - started
    assert sorted(o.line for o in summary.stored) == sorted(set(o.line for o in summary.stored))
    assert len(summary.rejected) == 1
    # A platform id sent twice is stored from its first line, whichever worker parsed which chunk first.
    lines_of: dict[str, list[tuple[int, bool]]] = {}
    for outcome in summary.stored:
        lines_of.setdefault(outcome.platform_report_id, []).append((outcome.line, outcome.created))
    assert any(len(found) > 1 for found in lines_of.values())
    for found in lines_of.values():
        assert min(found) == (min(line for line, _ in found), True)
        assert sum(created for _, created in found) == 1
    with store.session() as session:
        reports = session.scalar(sa.select(sa.func.count()).select_from(Report))
        unprocessed = session.scalar(sa.select(sa.func.count()).where(Report.processed_at.is_(None)))
        events = session.scalar(sa.select(sa.func.count()).where(AuditEvent.action == "report.filed"))
        released = session.scalar(sa.select(sa.func.count(sa.distinct(Release.report_id))))
        members = session.scalar(
            sa.select(sa.func.count()).where(
                Report.bundle_id.is_not(None), Report.id.not_in(sa.select(Bundle.lead_report_id))
            )
        )
        rows = session.execute(
            sa.select(ReportFile.md5, ReportFile.report_id, ReportFile.previously_seen).order_by(ReportFile.report_id)
        ).all()
    assert reports == events == summary.accepted
    assert unprocessed == 0
    assert released == summary.accepted - (members or 0)  # a bundle member is released through its lead
    first: dict[str | None, int] = {}
    for md5_, report_id, seen in rows:
        first.setdefault(md5_, report_id)
        assert seen is (first[md5_] != report_id)


def test_a_chunk_that_fails_before_its_turn_still_passes_the_turn_on(store: Store) -> None:
    """Otherwise the workers holding the chunks after it would wait for their turns forever."""
    import multiprocessing
    from contextlib import ExitStack

    from clearinghouse.tipline import bulk

    context = multiprocessing.get_context("spawn")
    turns = bulk.Turns(next=context.Value("q", 3), changed=context.Condition())
    saved = bulk._worker
    bulk._worker = bulk._Worker(store, Processor(), turns, ExitStack())
    try:
        with pytest.raises(TypeError):
            bulk._work_on_chunk(3, None, dt.datetime.now(dt.UTC), 1, "t")  # type: ignore[arg-type]
    finally:
        bulk._worker = saved
    assert turns.next.value == 4
