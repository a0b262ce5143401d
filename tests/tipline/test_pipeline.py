"""The pipeline over bulk-filed reports: match, locate, prioritise, classify and release, on both stores;
resumable after a crash mid-queue and idempotent when run again."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from clearinghouse.access.audit import history
from clearinghouse.access.models import AuditEvent
from clearinghouse.db.engine import Store
from clearinghouse.geo.models import Agency
from clearinghouse.tipline import pipeline, queue
from clearinghouse.tipline.availability import release_to_jurisdiction
from clearinghouse.tipline.matching import FileHashes
from clearinghouse.tipline.models import Bundle, Classification, Release, Report, ReportFile
from clearinghouse.tipline.priority import Priority
from tests.tipline.bulk_helpers import ENTICEMENT, T0, doc, image, line, md5, ready, releases_of, report_by_ref, send


def _clock(received_at: dt.datetime) -> dt.datetime:
    return received_at + dt.timedelta(minutes=30)


def _files(store: Store, report_id: int) -> list[tuple[str | None, bool | None]]:
    with store.session() as session:
        query = sa.select(ReportFile.md5, ReportFile.previously_seen).where(ReportFile.report_id == report_id)
        return sorted(((a, b) for a, b in session.execute(query)), key=lambda pair: pair[0] or "")


def test_every_step_leaves_its_decision_on_the_report(any_store: Store) -> None:
    platform = ready(any_store)
    lines = [
        line("nc-new", files=[image(1)]),
        line("nc-escalated", doc(state="NC", escalation_reason="meeting the child tonight")),
        line("nowhere", doc(), files=[image(2)]),
        line("mexico", doc(country="MX")),
        line("spam", doc(state="CA", annotations=["spam"]), files=[image(3)]),
        line("enticement", doc(incident_type=ENTICEMENT, state="NY", victims=[{"person": {"age": 13}}])),
    ]
    send(any_store, platform, lines)
    assert pipeline.run(any_store, clock=_clock) == 6
    expected = {
        "nc-new": ("US", "NC", Priority.HIGH, Classification.REFERRAL, {"NC"}),
        "nc-escalated": ("US", "NC", Priority.URGENT, Classification.REFERRAL, {"NC"}),
        "nowhere": (None, None, Priority.HIGH, Classification.INFORMATIONAL, {"FED"}),
        "mexico": ("MX", None, Priority.NORMAL, Classification.REFERRAL, {"INTL"}),
        "spam": ("US", "CA", Priority.LOW, Classification.INFORMATIONAL, {"CA"}),
        "enticement": ("US", "NY", Priority.URGENT, Classification.REFERRAL, {"NY"}),
    }
    for ref, (country, state, priority, classification, released) in expected.items():
        report = report_by_ref(any_store, platform, ref)
        assert (report.country_code, report.state_code) == (country, state), ref
        assert (report.priority, report.classification) == (priority, classification), ref
        assert report.processed_at == T0 + dt.timedelta(minutes=30)
        assert releases_of(any_store, report.id) == released, ref
    spam = report_by_ref(any_store, platform, "spam")
    with any_store.session() as session:
        task_forces = session.scalar(
            sa.select(sa.func.count()).where(Agency.jurisdiction_code == "CA", Agency.kind == "ICAC_TASK_FORCE")
        )
        released = session.scalar(sa.select(sa.func.count()).where(Release.report_id == spam.id))
        events = [(e.action, e.detail) for e in history(session=session, subject_type="report", subject_id=spam.id)]
    assert released == task_forces == 3  # California has three task forces: each is given the report
    assert [action for action, _ in events] == ["report.filed", "report.processed"]
    detail = events[1][1]
    assert detail is not None
    assert set(detail) == {"matched", "located", "prioritised", "classified", "released"}
    assert detail["prioritised"] == {"priority": 4, "reason": "flagged spam by the platform"}
    assert detail["released"] == {"jurisdiction": "CA"}


def test_files_seen_before_are_told_from_new_ones(any_store: Store) -> None:
    platform, other = ready(any_store), ready(any_store, "Other Photos")
    send(any_store, platform, [line("first", files=[image(1)]), line("second", files=[image(1), image(2)])])
    pipeline.run(any_store)
    send(any_store, other, [line("third", files=[image(2), image(3), {"kind": "video", "sha1": "ab" * 20}])])
    pipeline.run(any_store)
    first, second = report_by_ref(any_store, platform, "first"), report_by_ref(any_store, platform, "second")
    third = report_by_ref(any_store, other, "third")
    assert _files(any_store, first.id) == [(md5(1), False)]
    assert _files(any_store, second.id) == [(md5(1), True), (md5(2), False)]
    assert _files(any_store, third.id) == [(None, None), (md5(2), True), (md5(3), False)]
    assert (first.priority, second.priority) == (Priority.HIGH, Priority.HIGH)


class _Bank:
    """A known-content bank holding one SHA-1."""

    def __init__(self, sha1: str) -> None:
        self.sha1 = sha1
        self.asked: list[FileHashes] = []

    def lookup(self, session: Session, files: Sequence[FileHashes]) -> list[bool]:
        self.asked.extend(files)
        return [f.sha1 == self.sha1 for f in files]


def test_a_bank_matcher_marks_known_content(store: Store) -> None:
    platform = ready(store)
    bank = _Bank("cd" * 20)
    known = {"kind": "image", "sha1": "cd" * 20}
    send(store, platform, [line("a", files=[known, image(9)])])
    pipeline.run(store, banks=[bank])
    report = report_by_ref(store, platform, "a")
    assert _files(store, report.id) == [(None, True), (md5(9), False)]
    assert len(bank.asked) == 2


def test_a_crash_mid_queue_loses_nothing_and_repeats_nothing(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    platform = ready(store)
    # Each report has a file of its own (so none is bundled) and one they all share (seen before after the first).
    send(store, platform, [line(f"r-{i}", doc(state="NC"), files=[image(i), image(100)]) for i in range(10)])
    real = queue.load_batch
    calls = {"n": 0}

    def crash_on_second_batch(session: object, *, limit: int) -> list[queue.QueuedReport]:
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("the process dies here")
        return real(session, limit=limit)  # type: ignore[arg-type]

    monkeypatch.setattr(pipeline, "load_batch", crash_on_second_batch)
    with pytest.raises(RuntimeError):
        pipeline.run(store, batch_size=4)
    monkeypatch.setattr(pipeline, "load_batch", real)
    with store.session() as session:
        done = session.scalar(sa.select(sa.func.count()).where(Report.processed_at.is_not(None)))
    assert done == 4  # the first batch committed, the second never started
    assert pipeline.run(store, batch_size=4) == 6
    with store.session() as session:
        releases = session.execute(sa.select(Release.report_id, sa.func.count()).group_by(Release.report_id)).all()
        processed = session.scalars(sa.select(AuditEvent.subject_id).where(AuditEvent.action == "report.processed"))
        events = sorted(int(subject) for subject in processed)
        shared = sa.select(ReportFile.previously_seen).where(ReportFile.md5 == md5(100)).order_by(ReportFile.report_id)
        seen = session.scalars(shared).all()
    assert sorted(count for _, count in releases) == [1] * 10  # NC has one task force: one release each
    assert events == sorted(report_id for report_id, _ in releases)
    assert seen == [False] + [True] * 9


def test_running_the_steps_again_changes_nothing(any_store: Store) -> None:
    platform = ready(any_store)
    send(any_store, platform, [line("a", files=[image(1)]), line("b", doc(state="CA"), files=[image(1)])])
    pipeline.run(any_store, clock=_clock)

    def snapshot() -> list[list[tuple[object, ...]]]:
        with any_store.session() as session:
            reports = session.execute(
                sa.select(Report.id, Report.state_code, Report.priority, Report.classification, Report.bundle_id)
            ).all()
            releases = session.execute(sa.select(Release.report_id, Release.agency_id, Release.released_at)).all()
            files = session.execute(sa.select(ReportFile.id, ReportFile.previously_seen)).all()
            bundles = session.execute(sa.select(Bundle.id, Bundle.lead_report_id, Bundle.report_count)).all()
        rows = [reports, releases, files, bundles]
        return [sorted(tuple(row) for row in table) for table in rows]

    before = snapshot()
    assert before[3] == [(1, report_by_ref(any_store, platform, "a").id, 2)]  # the same file: one bundle of two
    with any_store.unit_of_work() as session:  # as if the batch had to be taken again
        session.execute(sa.update(Report).values(processed_at=None))
    assert pipeline.run(any_store, clock=_clock) == 2
    assert snapshot() == before


def test_a_report_can_later_be_released_to_another_jurisdiction(store: Store) -> None:
    platform = ready(store)
    send(store, platform, [line("a")])
    pipeline.run(store)
    report = report_by_ref(store, platform, "a")
    with store.unit_of_work() as session:
        agencies = session.scalars(sa.select(Agency).where(Agency.jurisdiction_code == "VA")).all()
        task_forces = [a for a in agencies if a.kind == "icac_task_force"]
        release_to_jurisdiction(
            session=session,
            report_id=report.id,
            jurisdiction_code="VA",
            agencies=task_forces,
            actor="analyst",
            reason="the victim lives in Virginia",
        )
    assert releases_of(store, report.id) == {"NC", "VA"}


def test_the_queue_reads_the_batch_and_victims_from_the_body(any_store: Store) -> None:
    platform = ready(any_store)
    batch = {"reason": "VIRAL_POTENTIAL_MEME", "grouped_report_ids": ["x", "y"]}
    victims = [{"person": {"age": 40}}, {"person": {"date_of_birth": "2015-02-01"}}]
    send(any_store, platform, [line("x", doc(state="NC", batch=batch, victims=victims)), line("z")])
    with any_store.session() as session:
        loaded = {r.platform_ref: r for r in queue.load_batch(session, limit=10)}
    assert loaded["x"].batch == batch
    assert (loaded["x"].child_victim, loaded["z"].child_victim) == (True, False)
    assert loaded["x"].grouped_refs == ["x", "y"]
    assert loaded["z"].batch is None


def test_the_hashing_programs_banks_are_asked_by_default(any_store: Store) -> None:
    from clearinghouse.hashing.models import BankKind
    from clearinghouse.hashing.schemas import EntryIn
    from clearinghouse.hashing.service import add_entries, get_or_create_bank

    platform = ready(any_store)
    with any_store.unit_of_work() as session:
        known = get_or_create_bank(session=session, name="known", kind=BankKind.KNOWN_ABUSE)
        benign = get_or_create_bank(session=session, name="benign", kind=BankKind.ALLOW_LIST)
        add_entries(session=session, bank=known, entries=[EntryIn(hashes={"md5": md5(41)})])
        add_entries(session=session, bank=benign, entries=[EntryIn(hashes={"sha1": "ef" * 20})])
    files = [image(41), image(42), {"kind": "image", "sha1": "ef" * 20}]
    send(any_store, platform, [line("a", files=files)])
    pipeline.run(any_store)
    report = report_by_ref(any_store, platform, "a")
    assert _files(any_store, report.id) == [(None, True), (md5(41), True), (md5(42), False)]


def test_a_visually_similar_copy_of_banked_content_is_previously_seen(store: Store) -> None:
    from clearinghouse.hashing.image import hash_content
    from clearinghouse.hashing.models import BankKind
    from clearinghouse.hashing.schemas import EntryIn
    from clearinghouse.hashing.service import add_entries, get_or_create_bank
    from tests.hashing.pictures import encode, picture, recompressed

    original, other = picture(21), picture(22)
    banked = hash_content(encode(original))
    copy = hash_content(encode(recompressed(original)))  # other bytes, near PDQ
    unrelated = hash_content(encode(other))
    platform = ready(store)
    with store.unit_of_work() as session:
        known = get_or_create_bank(session=session, name="known", kind=BankKind.KNOWN_ABUSE)
        entry = EntryIn(hashes={"md5": banked.md5, "pdq": str(banked.pdq)}, pdq_quality=banked.pdq_quality)
        add_entries(session=session, bank=known, entries=[entry])
    files = [{"kind": "image", "md5": d.md5, "pdq": d.pdq, "pdq_quality": d.pdq_quality} for d in (copy, unrelated)]
    send(store, platform, [line("similar", files=files)])
    pipeline.run(store)
    report = report_by_ref(store, platform, "similar")
    seen = dict(_files(store, report.id))
    assert seen[copy.md5] is True
    assert seen[unrelated.md5] is False


def test_two_pipeline_processes_on_one_sqlite_store_process_each_report_once(store: Store) -> None:
    import threading

    platform = ready(store)
    send(store, platform, [line(f"c-{i}", doc(state="NC"), files=[image(i)]) for i in range(1500)])
    counts: list[int] = []
    errors: list[BaseException] = []

    def follow() -> None:
        own = Store(store.url)  # a process of its own would have its own engine and connection
        try:
            counts.append(pipeline.run(own, batch_size=100))
        except BaseException as error:
            errors.append(error)
        finally:
            own.dispose()

    threads = [threading.Thread(target=follow) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    assert sum(counts) == 1500
    with store.session() as session:
        processed = session.scalars(sa.select(AuditEvent.subject_id).where(AuditEvent.action == "report.processed"))
        subjects = list(processed)
        queued = session.scalar(sa.select(sa.func.count()).where(Report.processed_at.is_(None)))
    assert len(subjects) == len(set(subjects)) == 1500
    assert queued == 0
