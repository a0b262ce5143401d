"""The review of a submission: every file looked up in the banks and sorted into the four series categories.

The category rule (also in docs/matching.md, "Victim identification"). Each file's hashes go through the
hashing program's matcher (exact MD5, SHA-1, SHA-256; PDQ within its threshold), then:

1. A file on an allow-list is benign: its other matches are withheld by the matcher, it is counted under *no
   series* and it is not queued for analysts.
2. Each match whose bank entry names a series registered here (`vid_series.code`) places the file in that
   series, unless the entry's category marks the file undeterminable (:data:`UNDETERMINABLE_CATEGORIES`).
   The series' status *now* decides: identified -> *identified series*, tracked -> *tracked series*. The
   bank's own ``victim_identified`` flag is not used: the identifications recorded here are the authority.
   A file may show several children and so be in several series, of both categories: it then counts in each,
   as the published tables do, and its own (primary) category is *identified series* if any of its series is.
3. A file matched, but placed in no registered series (a known-abuse entry without series, an entry whose
   category marks it undeterminable, or a series name no one has registered here), is *not determinable*.
4. A file nothing matched is *no series*, and waits in the analyst queue (`victim_id.queue`).

The categories and series found are stored with the file as they were at the review, so published figures do
not move when a series is identified later. The review is one unit of work: it either sorts every file and
completes the submission's review (through ``service.complete_review``, whose completion time the state sheet
counts), or stores nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import sqlalchemy as sa
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from clearinghouse.access import audit
from clearinghouse.db.base import utcnow
from clearinghouse.errors import Conflict, NotFound, require_past
from clearinghouse.hashing.matcher import Matcher
from clearinghouse.hashing.schemas import LookupResult
from clearinghouse.victim_id import service
from clearinghouse.victim_id.manifest import stored_file_batches
from clearinghouse.victim_id.models import (
    FileCategory,
    FileSeries,
    LinkSource,
    QueueItem,
    QueueState,
    Series,
    SeriesStatus,
    Submission,
    SubmissionFile,
    SubmissionStatus,
)

UNDETERMINABLE_CATEGORIES = frozenset({"2"})
"""Bank-entry categories that mark a file whose child's age or identity, or the act, cannot be determined.

Project VIC's US categorisation uses category 2 for "child exploitive / age difficult" material; such a file
is known content but cannot be placed in a child's series with confidence, whatever series its entry names.
"""
LOOKUP_CHUNK = 5_000
"""Files looked up per matcher call: large enough to amortise the store round trip, small enough for memory."""
SERIES_CATEGORY = {SeriesStatus.IDENTIFIED: FileCategory.IDENTIFIED, SeriesStatus.TRACKED: FileCategory.TRACKED}
CATEGORY_ORDER = tuple(FileCategory)
"""Published order of the categories; a file's primary category is the first of its categories in it."""


@dataclass(frozen=True, slots=True)
class FileDecision:
    """Where the rule puts one file: its primary category and the series (id, category) it is in."""

    category: FileCategory
    series: tuple[tuple[int, FileCategory], ...] = ()
    allow_listed: bool = False
    unregistered: frozenset[str] = field(default_factory=frozenset)

    @property
    def categories(self) -> set[FileCategory]:
        """Every category the file counts in (several when it is in series of both kinds)."""
        return {category for _, category in self.series} or {self.category}


def categorise(result: LookupResult, series_by_code: Mapping[str, Series]) -> FileDecision:
    """Apply the category rule (module docstring) to one file's lookup result."""
    if not result.matches:
        return FileDecision(FileCategory.NO_SERIES, allow_listed=bool(result.allow_listed))
    placed: dict[int, FileCategory] = {}
    unregistered: set[str] = set()
    for match in result.matches:
        if match.series is None or (match.category or "").strip() in UNDETERMINABLE_CATEGORIES:
            continue
        series = series_by_code.get(match.series)
        if series is None:
            unregistered.add(match.series)
            continue
        placed[series.id] = SERIES_CATEGORY[series.status]
    if not placed:
        return FileDecision(FileCategory.NOT_DETERMINABLE, unregistered=frozenset(unregistered))
    primary = min(placed.values(), key=CATEGORY_ORDER.index)
    return FileDecision(primary, tuple(sorted(placed.items())), unregistered=frozenset(unregistered))


class ReviewSummary(BaseModel):
    """What a review found, for the analyst who ran it (the agency's report is `victim_id.report`)."""

    submission_id: int
    completed_at: dt.datetime
    files: int
    categories: dict[FileCategory, int] = Field(
        description="Files counting in each category; a file in series of both kinds counts in both."
    )
    series: int = Field(description="Distinct series the files were found in.")
    queued: int = Field(description="Unrecognised files put in the analyst queue.")
    allow_listed: int = Field(description="Files on an allow-list (benign): no series, not queued.")
    unregistered_series: list[str] = Field(
        default_factory=list, description="Series names of bank entries that no series registered here carries."
    )


class _Series:
    """The series registered here, by code, read as the review meets their codes (each code once)."""

    def __init__(self, session: Session) -> None:
        self._session = session
        self.by_code: dict[str, Series] = {}
        self._asked: set[str] = set()

    def read(self, results: Iterable[LookupResult]) -> Mapping[str, Series]:
        """The series by code, with those the matches of ``results`` name read if not yet."""
        wanted = sorted({m.series for r in results for m in r.matches if m.series and m.series not in self._asked})
        self._asked.update(wanted)
        for start in range(0, len(wanted), 500):  # keeps IN (...) lists under the parameter limits of both stores
            query = sa.select(Series).where(Series.code.in_(wanted[start : start + 500]))
            self.by_code.update({series.code: series for series in self._session.scalars(query)})
        return self.by_code


def _locked_unreviewed(session: Session, submission_id: int) -> Submission:
    # Locked first, so that two analysts reviewing the same submission at once cannot both sort its files.
    submission = session.get(Submission, submission_id, with_for_update=True)
    if submission is None:
        raise NotFound("submission", submission_id)
    if submission.status not in service.UNREVIEWED:
        raise Conflict(f"submission {submission.id} is already {submission.status.value}")
    return submission


def run_review(
    *,
    session: Session,
    submission_id: int,
    actor: str,
    matcher: Matcher | None = None,
    at: dt.datetime | None = None,
) -> ReviewSummary:
    """Review a received (or in-review) submission: sort every file, queue the unrecognised, complete the review.

    ``matcher`` is reused when given (a worker reviewing many submissions builds it once); otherwise one is
    built from the store for this review. ``at`` is the completion time (now by default). The files are worked
    through :data:`LOOKUP_CHUNK` at a time, so that a submission of millions of files needs no more memory
    than one of thousands; all in the caller's unit of work.
    """
    at = require_past("at", at) if at is not None else utcnow()
    submission = _locked_unreviewed(session, submission_id)
    if submission.status is SubmissionStatus.RECEIVED:
        service.start_review(session=session, submission_id=submission.id, at=at, actor=actor)
    session.flush()  # pending changes (the review's start) must reach the store before the bulk statements
    own_matcher = matcher is None
    active = matcher if matcher is not None else Matcher.from_store(session=session, workers=1)
    series = _Series(session)
    tally = _Tally()
    try:
        for number, batch in enumerate(stored_file_batches(session, submission.id, LOOKUP_CHUNK)):
            queries = [file.query(ref=str(file_id)) for file_id, file in batch]
            # The first call catches the matcher up with hashes added since it was built (an analyst's attachments).
            results = active.lookup_many(session=session, queries=queries, refresh=number == 0)
            by_code = series.read(results)
            decisions = [categorise(result, by_code) for result in results]
            _store_decisions(session, [file_id for file_id, _ in batch], decisions, at)
            tally.add(decisions)
    finally:
        if own_matcher:
            active.close()
    session.expire_all()  # the bulk statements bypassed the identity map; later reads must see the new values
    service.complete_review(session=session, submission_id=submission.id, at=at, actor=actor)
    summary = tally.summary(submission.id, at)
    detail = {
        "categories": {str(category): count for category, count in summary.categories.items()},
        "queued": summary.queued,
    }
    audit.record(
        session=session,
        actor=actor,
        action="files_sorted",
        subject_type=service.SUBMISSION,
        subject_id=submission.id,
        detail=detail,
    )
    return summary


def _queued(decision: FileDecision) -> bool:
    return decision.category is FileCategory.NO_SERIES and not decision.allow_listed


def _store_decisions(
    session: Session, file_ids: Sequence[int], decisions: Sequence[FileDecision], at: dt.datetime
) -> None:
    if not file_ids:
        return
    pairs = list(zip(file_ids, decisions, strict=True))
    session.execute(sa.update(SubmissionFile), [{"id": file_id, "category": d.category} for file_id, d in pairs])
    links = [
        {
            "file_id": file_id,
            "series_id": series_id,
            "category": category,
            "source": LinkSource.REVIEW,
            "found_at": at,
            "created_at": utcnow(),
        }
        for file_id, decision in pairs
        for series_id, category in decision.series
    ]
    if links:
        session.execute(sa.insert(FileSeries), links)
    queued = [{"file_id": file_id, "queued_at": at, "state": QueueState.WAITING} for file_id, d in pairs if _queued(d)]
    if queued:
        session.execute(sa.insert(QueueItem), queued)


class _Tally:
    """What the review found so far, counted batch by batch: the summary needs no decision kept."""

    def __init__(self) -> None:
        self.files = 0
        self.categories = dict.fromkeys(FileCategory, 0)
        self.series: set[int] = set()
        self.queued = 0
        self.allow_listed = 0
        self.unregistered: set[str] = set()

    def add(self, decisions: Sequence[FileDecision]) -> None:
        self.files += len(decisions)
        for decision in decisions:
            for category in decision.categories:
                self.categories[category] += 1
            self.series.update(series_id for series_id, _ in decision.series)
            self.queued += _queued(decision)
            self.allow_listed += decision.allow_listed
            self.unregistered.update(decision.unregistered)

    def summary(self, submission_id: int, at: dt.datetime) -> ReviewSummary:
        return ReviewSummary(
            submission_id=submission_id,
            completed_at=at,
            files=self.files,
            categories=self.categories,
            series=len(self.series),
            queued=self.queued,
            allow_listed=self.allow_listed,
            unregistered_series=sorted(self.unregistered),
        )
