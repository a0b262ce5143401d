"""The review of a submission: exact category counts on the fixture world, the queue, and what the sheet counts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest

from clearinghouse.db.engine import Store
from clearinghouse.errors import Conflict
from clearinghouse.geo.models import AgencyKind
from clearinghouse.hashing.matcher import Matcher
from clearinghouse.hashing.schemas import LookupResult, MatchRead
from clearinghouse.impact.metrics import national_figures, state_figures
from clearinghouse.victim_id import queue, review
from clearinghouse.victim_id.counts import category_counts
from clearinghouse.victim_id.models import (
    SERIES_BANK,
    FileCategory,
    FileSeries,
    QueueItem,
    QueueState,
    Series,
    SeriesStatus,
    SubmissionFile,
    SubmissionStatus,
)
from clearinghouse.victim_id.review import FileDecision, categorise, run_review
from tests.victim_id import world
from tests.victim_id.world import REVIEWED, md5

AgencyId = Callable[[str, AgencyKind], int]
ID, T, N, S = FileCategory.IDENTIFIED, FileCategory.TRACKED, FileCategory.NOT_DETERMINABLE, FileCategory.NO_SERIES


@pytest.fixture
def built(seeded: Store) -> world.World:
    return world.build(seeded)


def _review(store: Store, submission_id: int, at: dt.datetime = REVIEWED) -> Any:
    with store.unit_of_work() as session:
        return run_review(session=session, submission_id=submission_id, actor="analyst", at=at)


def _categories(store: Store, submission_id: int) -> list[FileCategory | None]:
    with store.unit_of_work() as session:
        files = session.query(SubmissionFile).filter_by(submission_id=submission_id).order_by(SubmissionFile.position)
        return [file.category for file in files]


@pytest.mark.parametrize("chunk", [review.LOOKUP_CHUNK, 5, 1])
def test_review_sorts_every_file_by_the_rule(
    seeded: Store, built: world.World, agency_id: AgencyId, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    monkeypatch.setattr(review, "LOOKUP_CHUNK", chunk)  # worked through in batches, the review finds the same
    submission = world.submit(seeded, agency_id("WA", AgencyKind.ICAC_TASK_FORCE))
    summary = _review(seeded, submission.id)
    assert summary.categories == {ID: 4, T: 2, N: 3, S: 4}
    assert (summary.files, summary.series, summary.queued, summary.allow_listed) == (12, 2, 3, 1)
    assert summary.unregistered_series == ["NEVER-REGISTERED"]
    assert _categories(seeded, submission.id) == [ID, ID, ID, T, N, N, N, ID, S, S, S, S]
    with seeded.unit_of_work() as session:
        counts = {c.category: (c.files, c.unique_md5) for c in category_counts(session, submission_id=submission.id)}
        stored = session.get(type(submission), submission.id)
        assert stored is not None
        assert (stored.status, stored.review_completed_at) == (SubmissionStatus.REVIEWED, REVIEWED)
        linked = {(link.file_id, link.series_id) for link in session.query(FileSeries)}
        assert len(linked) == 6  # positions 1, 2, 3 and 8 in SER-ID-1; 4 and 8 in SER-TR-1
        assert session.query(QueueItem).count() == 3
    assert counts == {ID: (4, 3), T: (2, 2), N: (3, 3), S: (4, 3), None: (12, 10)}


def test_the_sheet_and_the_national_lines_count_the_completed_review(
    seeded: Store, built: world.World, agency_id: AgencyId
) -> None:
    submission = world.submit(seeded, agency_id("WA", AgencyKind.ICAC_TASK_FORCE))
    with seeded.unit_of_work() as session:
        assert state_figures(session, "WA", 2023).vid_submissions_reviewed == 0
    _review(seeded, submission.id)
    with seeded.unit_of_work() as session:
        assert state_figures(session, "WA", 2023).vid_submissions_reviewed == 1
        assert state_figures(session, "WA", 2024).vid_submissions_reviewed == 0
        assert state_figures(session, "OR", 2023).vid_submissions_reviewed == 0
        assert national_figures(session, 2023).children_identified_to_date == 2
        assert national_figures(session, 2021).children_identified_to_date == 0


def test_a_reviewed_submission_is_not_reviewed_again(seeded: Store, built: world.World, agency_id: AgencyId) -> None:
    submission = world.submit(seeded, agency_id("WA", AgencyKind.ICAC_TASK_FORCE))
    _review(seeded, submission.id)
    with pytest.raises(Conflict, match="already reviewed"):
        _review(seeded, submission.id)


def test_a_failed_review_stores_nothing(seeded: Store, built: world.World, agency_id: AgencyId, row_count: Any) -> None:
    submission = world.submit(seeded, agency_id("WA", AgencyKind.ICAC_TASK_FORCE))
    with pytest.raises(Exception, match="comes before submitted_at"):
        _review(seeded, submission.id, at=world.SUBMITTED - dt.timedelta(days=1))
    assert (row_count(FileSeries), row_count(QueueItem)) == (0, 0)
    assert set(_categories(seeded, submission.id)) == {None}


def test_a_review_reuses_a_given_matcher(seeded: Store, built: world.World, agency_id: AgencyId) -> None:
    submission = world.submit(seeded, agency_id("WA", AgencyKind.ICAC_TASK_FORCE))
    with seeded.unit_of_work() as session:
        matcher = Matcher.from_store(session=session, workers=1)
        summary = run_review(session=session, submission_id=submission.id, actor="a", matcher=matcher, at=REVIEWED)
        matcher.close()
    assert summary.categories[ID] == 4


def _match(series: str | None, category: str | None = "1") -> MatchRead:
    fields: dict[str, Any] = {"bank_id": 1, "bank": "b", "bank_kind": "known_abuse", "entry_id": 1, "hash_id": 1}
    fields.update({"hash_type": "md5", "value": md5(1), "distance": 0, "victim_identified": None})
    return MatchRead(series=series, category=category, **fields)


def test_categorise_prefers_identified_and_keeps_every_series() -> None:
    tracked = Series(id=1, code="A", status=SeriesStatus.TRACKED)
    identified = Series(id=2, code="B", status=SeriesStatus.IDENTIFIED)
    by_code = {"A": tracked, "B": identified}
    query = {"query": {"md5": md5(1)}}
    both = categorise(LookupResult(**query, matches=[_match("A"), _match("B"), _match(None)]), by_code)
    assert both == FileDecision(ID, ((1, T), (2, ID)))
    assert both.categories == {ID, T}
    undeterminable = categorise(LookupResult(**query, matches=[_match("B", category=" 2 ")]), by_code)
    assert undeterminable.category is N
    assert categorise(LookupResult(**query), by_code) == FileDecision(S)


def _two_reviewed(store: Store, agency_id: AgencyId) -> tuple[Any, Any, list[queue.QueuedFile]]:
    """The fixture manifest from WA and files 9 to 11 from OR, both reviewed; and the files then waiting."""
    first = world.submit(store, agency_id("WA", AgencyKind.ICAC_TASK_FORCE))
    _review(store, first.id)
    second = world.submit(store, agency_id("OR", AgencyKind.ICAC_TASK_FORCE), case="B-1", numbers=(9, 10, 11))
    _review(store, second.id)
    with store.session() as session:
        return first, second, queue.list_waiting(session=session)


def test_queue_open_and_attach_then_later_reviews_recognise_the_files(
    seeded: Store, built: world.World, agency_id: AgencyId
) -> None:
    first, second, waiting = _two_reviewed(seeded, agency_id)
    assert [item.submission_id for item in waiting] == [first.id] * 3 + [second.id] * 3
    by_md5 = {(item.submission_id, item.md5): item.file_id for item in waiting}
    at = REVIEWED + dt.timedelta(days=2)
    with seeded.unit_of_work() as session:
        new = queue.open_series_from_queue(
            session=session, code="SER-NEW-1", file_ids=[by_md5[first.id, md5(9)]], actor="analyst", at=at
        )
        assert new.status is SeriesStatus.TRACKED
        # The copy of file 9 in the second submission is resolved with it.
        assert queue.count_waiting(session=session) == 4
    with seeded.unit_of_work() as session:
        count = queue.attach_to_series(
            session=session, code="SER-ID-1", file_ids=[by_md5[first.id, md5(10)]], actor="analyst", at=at
        )
        assert count == 2
        assert queue.count_waiting(session=session) == 2
    with seeded.unit_of_work() as session, pytest.raises(Conflict, match="already resolved"):
        queue.attach_to_series(session=session, code="SER-ID-1", file_ids=[by_md5[first.id, md5(10)]], actor="a")
    third = world.submit(seeded, agency_id("CA", AgencyKind.ICAC_TASK_FORCE), case="C-1", numbers=(9, 10, 11))
    summary = _review(seeded, third.id, at=at + dt.timedelta(days=1))
    assert _categories(seeded, third.id) == [T, ID, S]
    assert summary.queued == 1
    # The review's categories of the earlier submissions stay as they were.
    assert _categories(seeded, second.id) == [S, S, S]
    with seeded.unit_of_work() as session:
        remaining = [(item.submission_id, item.sha1) for item in queue.list_waiting(session=session)]
        assert remaining == [(first.id, world.sha1(11)), (second.id, world.sha1(11)), (third.id, world.sha1(11))]


def test_queue_refuses_unknown_files_and_a_file_of_another_series(
    seeded: Store, built: world.World, agency_id: AgencyId
) -> None:
    from clearinghouse.errors import InputError, NotFound
    from clearinghouse.hashing import service as hashing
    from clearinghouse.hashing.models import BankKind

    submission = world.submit(seeded, agency_id("WA", AgencyKind.ICAC_TASK_FORCE))
    _review(seeded, submission.id)
    with seeded.unit_of_work() as session:
        file_id = queue.list_waiting(session=session)[0].file_id
        with pytest.raises(InputError, match="not in the analyst queue"):
            queue.attach_to_series(session=session, code="SER-ID-1", file_ids=[file_id, 999_999], actor="a")
        with pytest.raises(NotFound):
            queue.attach_to_series(session=session, code="NOPE", file_ids=[file_id], actor="a")
    with seeded.unit_of_work() as session:
        bank = hashing.get_or_create_bank(session=session, name=SERIES_BANK, kind=BankKind.IDENTIFIED_SERIES)
        hashing.add_entries(session=session, bank=bank, entries=[world.entry(9, series="SER-TR-1")])
    with seeded.unit_of_work() as session, pytest.raises(Conflict, match="SER-TR-1"):
        queue.attach_to_series(session=session, code="SER-ID-1", file_ids=[file_id], actor="a")
    with seeded.unit_of_work() as session:
        assert queue.count_waiting(session=session) == 3


def test_queue_closes_files_without_a_series_with_their_copies_and_the_reason(
    seeded: Store, built: world.World, agency_id: AgencyId
) -> None:
    import sqlalchemy as sa

    from clearinghouse.access.models import AuditEvent
    from clearinghouse.errors import InputError
    from clearinghouse.hashing.models import BankEntry

    first, second, waiting = _two_reviewed(seeded, agency_id)
    by_md5 = {(item.submission_id, item.md5): item.file_id for item in waiting}
    with seeded.unit_of_work() as session:
        entries_before = session.scalar(sa.select(sa.func.count()).select_from(BankEntry))
    with seeded.unit_of_work() as session, pytest.raises(InputError, match="reason"):
        queue.close_without_series(session=session, file_ids=[by_md5[first.id, md5(9)]], reason=" ", actor="a")
    with seeded.unit_of_work() as session:
        closed = queue.close_without_series(
            session=session, file_ids=[by_md5[first.id, md5(9)]], reason="adult, verified", actor="analyst"
        )
        # The copy of file 9 in the second submission is closed with it; nothing goes into a bank.
        assert closed == 2
        assert queue.count_waiting(session=session) == 4
        assert session.scalar(sa.select(sa.func.count()).select_from(BankEntry)) == entries_before
    with seeded.unit_of_work() as session, pytest.raises(Conflict, match="already resolved"):
        queue.close_without_series(session=session, file_ids=[by_md5[first.id, md5(9)]], reason="again", actor="a")
    with seeded.session() as session:
        events = session.execute(
            sa.select(AuditEvent.subject_id, AuditEvent.detail).where(AuditEvent.action == "closed_without_series")
        ).all()
        items = session.scalars(sa.select(QueueItem).where(QueueItem.state == QueueState.RESOLVED)).all()
    copies = sorted([by_md5[first.id, md5(9)], by_md5[second.id, md5(9)]])
    assert sorted(int(subject) for subject, _ in events) == copies
    assert all(detail == {"reason": "adult, verified"} for _, detail in events)
    assert all(item.series_id is None and item.resolved_by == "analyst" for item in items)
    # The same content sent again waits again, still "no series" in the figures.
    third = world.submit(seeded, agency_id("CA", AgencyKind.ICAC_TASK_FORCE), case="C-2", numbers=(9,))
    summary = _review(seeded, third.id, at=REVIEWED + dt.timedelta(days=1))
    assert summary.queued == 1
    assert _categories(seeded, third.id) == [S]
