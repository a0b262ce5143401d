"""The analyst queue: files no bank recognised at review, waiting for an analyst to place them in a series.

An analyst either opens a new series from waiting files (the series starts *tracked*: its child is not yet
identified) or attaches them to a series already registered. Either way the files' hashes go into the
clearinghouse's own series bank (:data:`SERIES_BANK`, of kind ``identified_series``) under the series code, so
that every later review recognises them, and each file is linked to the series with the source *analyst*.

Copies of the same content (a shared MD5, SHA-1 or SHA-256) waiting elsewhere in the queue are resolved with
the files named: the analyst's decision is about the content, not about one agency's copy of it. The review's
own categories are not changed (the published figures count what the review found); the report and the
quarterly export show the analyst's links beside them.

Every function adds to the caller's unit of work and never commits.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict
from sqlalchemy.orm import Session

from clearinghouse.access import audit
from clearinghouse.db.base import utcnow
from clearinghouse.errors import Conflict, InputError, require_past
from clearinghouse.hashing import service as hashing
from clearinghouse.hashing.models import BankEntry, BankHash, BankKind, HashBank
from clearinghouse.hashing.schemas import EntryIn
from clearinghouse.validation import check_page
from clearinghouse.victim_id import service
from clearinghouse.victim_id.manifest import ManifestFile
from clearinghouse.victim_id.models import (
    SERIES_BANK,
    FileSeries,
    LinkSource,
    QueueItem,
    QueueState,
    Series,
    SeriesStatus,
    Submission,
    SubmissionFile,
)
from clearinghouse.victim_id.review import SERIES_CATEGORY
from clearinghouse.victim_id.schemas import SeriesCreate

SERIES_BANK_SOURCE = "victim-identification analysts"
FILE = "vid_submission_file"
"""Audit subject of a submitted file (its hashes; never content)."""
_CHUNK = 500


class QueuedFile(BaseModel):
    """A file waiting for an analyst: where it came from and its hashes (never content)."""

    model_config = ConfigDict(from_attributes=True)

    file_id: int
    submission_id: int
    agency_id: int
    queued_at: dt.datetime
    md5: str | None
    sha1: str | None
    sha256: str | None
    pdq: str | None


def list_waiting(*, session: Session, limit: int = 100, offset: int = 0) -> list[QueuedFile]:
    """Files waiting in the queue, longest waiting first."""
    check_page(limit, offset)
    rows = session.execute(
        sa.select(
            SubmissionFile.id.label("file_id"),
            SubmissionFile.submission_id,
            Submission.agency_id,
            QueueItem.queued_at,
            SubmissionFile.md5,
            SubmissionFile.sha1,
            SubmissionFile.sha256,
            SubmissionFile.pdq,
        )
        .join(SubmissionFile, SubmissionFile.id == QueueItem.file_id)
        .join(Submission, Submission.id == SubmissionFile.submission_id)
        .where(QueueItem.state == QueueState.WAITING)
        .order_by(QueueItem.queued_at, QueueItem.id)
        .limit(limit)
        .offset(offset)
    ).all()
    return [QueuedFile.model_validate(row) for row in rows]


def count_waiting(*, session: Session) -> int:
    """How many files wait in the queue."""
    query = sa.select(sa.func.count()).select_from(QueueItem).where(QueueItem.state == QueueState.WAITING)
    return int(session.scalar(query) or 0)


def open_series_from_queue(
    *, session: Session, code: str, file_ids: Sequence[int], actor: str, at: dt.datetime | None = None
) -> Series:
    """Open a new (tracked) series under ``code`` from waiting files, and resolve them into it."""
    at = require_past("at", at) if at is not None else utcnow()
    items = _waiting_items(session, file_ids)  # checked before the series exists, so a bad id opens nothing
    series = service.open_series(session=session, data=SeriesCreate(code=code, opened_at=at), actor=actor)
    _resolve(session, series, items, actor, at)
    return series


def attach_to_series(
    *, session: Session, code: str, file_ids: Sequence[int], actor: str, at: dt.datetime | None = None
) -> int:
    """Resolve waiting files into the registered series ``code``; returns how many files were resolved."""
    at = require_past("at", at) if at is not None else utcnow()
    items = _waiting_items(session, file_ids)
    series = service.get_series_by_code(session=session, code=code)
    return _resolve(session, series, items, actor, at)


NO_SERIES_REASON_MAX = 500
"""Longest reason an analyst may give for closing files without a series."""


def close_without_series(
    *, session: Session, file_ids: Sequence[int], reason: str, actor: str, at: dt.datetime | None = None
) -> int:
    """Close waiting files for which the analyst finds no series warranted, with copies of the same content
    waiting in other submissions; returns how many files were closed.

    Nothing goes into a bank: the files stay *no series* in the figures, and the same content sent again later
    waits in the queue again. Each closed file gets an audit event with the analyst's reason.
    """
    at = require_past("at", at) if at is not None else utcnow()
    reason = reason.strip()
    if not reason:
        raise InputError("reason", "say why no series is warranted")
    if len(reason) > NO_SERIES_REASON_MAX:
        raise InputError("reason", f"is too long: at most {NO_SERIES_REASON_MAX} characters")
    items = _waiting_items(session, file_ids)
    items = items + _copies(session, _files(session, (item.file_id for item in items)))
    for item in items:
        item.state = QueueState.RESOLVED
        item.resolved_at = at
        item.resolved_by = actor
    session.flush()
    audit.record_many(
        session=session,
        rows=[
            {
                "actor": actor,
                "action": "closed_without_series",
                "subject_type": FILE,
                "subject_id": str(item.file_id),
                "at": at,
                "detail": {"reason": reason},
            }
            for item in items
        ],
    )
    return len(items)


def _waiting_items(session: Session, file_ids: Sequence[int]) -> list[QueueItem]:
    wanted = sorted(set(file_ids))
    if not wanted:
        raise InputError("file_ids", "name at least one waiting file")
    items: list[QueueItem] = []
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]
        query = sa.select(QueueItem).where(QueueItem.file_id.in_(chunk)).with_for_update()
        items.extend(session.scalars(query))
    missing = sorted(set(wanted) - {item.file_id for item in items})
    if missing:
        raise InputError("file_ids", "these files are not in the analyst queue", missing)
    done = sorted(item.file_id for item in items if item.state is not QueueState.WAITING)
    if done:
        raise Conflict(f"files {done} were already resolved by an analyst")
    return items


def _copies(session: Session, files: Sequence[SubmissionFile]) -> list[QueueItem]:
    """Waiting items of other files sharing a digest with ``files``."""
    named = {file.id for file in files}
    found: dict[int, QueueItem] = {}
    for column in (SubmissionFile.md5, SubmissionFile.sha1, SubmissionFile.sha256):
        values = sorted({value for file in files if (value := getattr(file, column.key)) is not None})
        for start in range(0, len(values), _CHUNK):
            query = (
                sa.select(QueueItem)
                .join(SubmissionFile, SubmissionFile.id == QueueItem.file_id)
                .where(QueueItem.state == QueueState.WAITING, column.in_(values[start : start + _CHUNK]))
                .with_for_update(of=QueueItem)
            )
            found.update({item.id: item for item in session.scalars(query) if item.file_id not in named})
    return list(found.values())


def _files(session: Session, ids: Iterable[int]) -> list[SubmissionFile]:
    wanted = sorted(set(ids))
    files: list[SubmissionFile] = []
    for start in range(0, len(wanted), _CHUNK):
        files.extend(
            session.scalars(sa.select(SubmissionFile).where(SubmissionFile.id.in_(wanted[start : start + _CHUNK])))
        )
    return files


def _check_bank(session: Session, bank: HashBank, code: str, entries: Sequence[EntryIn]) -> None:
    # The bank holds one series per entry, and adding a hash it already holds rewrites that entry's series: a
    # file already placed in another series (a second child) must not be moved out of it silently. The hashes
    # are found by type and value alone, and kept to the bank here: given the bank too, SQLite's planner may
    # take the bank's index and read all of the bank (as `hashing.service._entries_by_hash` explains).
    by_type: dict[str, set[str]] = {}
    for entry in entries:
        for name, value in entry.hashes.items():
            by_type.setdefault(name, set()).add(value)
    for name, values in sorted(by_type.items()):
        ordered = sorted(values)
        for start in range(0, len(ordered), _CHUNK):
            query = (
                sa.select(BankHash.bank_id, BankEntry.series)
                .join(BankEntry, BankEntry.id == BankHash.entry_id)
                .where(BankHash.hash_type == name, BankHash.value.in_(ordered[start : start + _CHUNK]))
            )
            others = [series for bank_id, series in session.execute(query) if bank_id == bank.id and series != code]
            if others:
                raise Conflict(
                    f"a file is already in series {others[0]!r} in bank {bank.name!r}; a file showing a second child "
                    "is recorded there by the hashing program's bank tools, not by moving it"
                )


def _resolve(session: Session, series: Series, items: list[QueueItem], actor: str, at: dt.datetime) -> int:
    files = _files(session, (item.file_id for item in items))
    items = items + _copies(session, files)
    files = _files(session, (item.file_id for item in items))
    identified = series.status is SeriesStatus.IDENTIFIED
    distinct: dict[tuple[tuple[str, str], ...], EntryIn] = {}
    for file in files:
        manifest_file = ManifestFile(file.md5, file.sha1, file.sha256, file.pdq, file.pdq_quality)
        hashes = manifest_file.hashes()
        distinct[tuple(sorted(hashes.items()))] = EntryIn(
            hashes=hashes,
            pdq_quality=file.pdq_quality if file.pdq is not None else None,
            series=series.code,
            victim_identified=identified,
            added_at=at,
            attributes={"added_by": actor},
        )
    bank = hashing.get_or_create_bank(
        session=session, name=SERIES_BANK, kind=BankKind.IDENTIFIED_SERIES, source=SERIES_BANK_SOURCE
    )
    entries = list(distinct.values())
    _check_bank(session, bank, series.code, entries)
    hashing.add_entries(session=session, bank=bank, entries=entries)
    category = SERIES_CATEGORY[series.status]
    session.add_all(
        FileSeries(file_id=file.id, series_id=series.id, category=category, source=LinkSource.ANALYST, found_at=at)
        for file in files
    )
    for item in items:
        item.state = QueueState.RESOLVED
        item.resolved_at = at
        item.resolved_by = actor
        item.series_id = series.id
    session.flush()
    detail = {"files": len(files), "file_ids": sorted(file.id for file in files)[:100], "bank": SERIES_BANK}
    audit.record(
        session=session,
        actor=actor,
        action="files_attached",
        subject_type=service.SERIES,
        subject_id=series.id,
        detail=detail,
    )
    return len(files)
