"""Manifests of law-enforcement submissions: hashes of seized files (VICS JSON or CSV), never the files themselves.

A manifest is read with the hashing program's own readers (`hashing.vics`, `hashing.csvio`, chosen as
`hashing.transfer` chooses), so the formats are those of docs/matching.md. Only the hashes of each file are
kept: the agency's own series, category and victim flags are not trusted (the review decides them against the
clearinghouse's banks), and file names and paths are dropped, since a name can carry a child's name.

A manifest with any bad record is refused whole, every bad record listed with its line, and nothing is stored:
an agency fixes its file and sends it again rather than having half a case reviewed. Seized devices hold millions
of files: a manifest is read and stored as it streams in, in batches, in one transaction that the refusal, found
at the end, rolls back.
"""

from __future__ import annotations

import collections
import datetime as dt
import io
import itertools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import sqlalchemy as sa
from sqlalchemy.orm import Session

from clearinghouse.access import audit
from clearinghouse.db.engine import optimize
from clearinghouse.errors import Conflict, InputError
from clearinghouse.hashing.kinds import SUFFIXES, FileFormat
from clearinghouse.hashing.schemas import EntryIn, HashQuery, ImportFormatError, Refusals, RowError
from clearinghouse.hashing.transfer import read as read_hash_file
from clearinghouse.victim_id import service
from clearinghouse.victim_id.models import Submission, SubmissionFile, SubmissionStatus
from clearinghouse.victim_id.schemas import SubmissionCreate

SHOWN_ERRORS = 10
"""Bad records named in the error's message; the others listed are in ``ManifestError.errors``."""
BATCH = 5_000
"""Files inserted per statement, and read per fetch when a manifest sent again is compared with the stored one."""


@dataclass(frozen=True, slots=True)
class ManifestFile:
    """The hashes of one file of a manifest, normalised (lower-case hexadecimal)."""

    md5: str | None = None
    sha1: str | None = None
    sha256: str | None = None
    pdq: str | None = None
    pdq_quality: int | None = None

    def query(self, ref: str | None = None) -> HashQuery:
        """The matcher's lookup for this file."""
        return HashQuery(
            ref=ref, md5=self.md5, sha1=self.sha1, sha256=self.sha256, pdq=self.pdq, pdq_quality=self.pdq_quality
        )

    def hashes(self) -> dict[str, str]:
        """The hashes present, by hash type name."""
        values = {"md5": self.md5, "sha1": self.sha1, "sha256": self.sha256, "pdq": self.pdq}
        return {name: value for name, value in values.items() if value is not None}


class ManifestError(InputError):
    """A manifest refused whole: its bad records with their lines (``errors``, the first
    :data:`~clearinghouse.hashing.schemas.MAX_LISTED`) and how many there are (``count``); nothing was stored."""

    def __init__(self, errors: Sequence[RowError], count: int | None = None) -> None:
        self.errors = list(errors)
        self.count = len(self.errors) if count is None else count
        shown = "; ".join(f"line {error.line}: {error.reason}" for error in self.errors[:SHOWN_ERRORS])
        more = self.count - SHOWN_ERRORS
        suffix = f"; and {more} more" if more > 0 else ""
        super().__init__("manifest", f"{self.count} bad record(s), nothing stored: {shown}{suffix}")


def detect_format(text: str, name: str | None = None) -> FileFormat:
    """VICS or CSV: from the file name's suffix when it tells, else from the first character of the text (its
    start is enough)."""
    if name is not None and (named := SUFFIXES.get(Path(name).suffix.lower())) is not None:
        return named
    return FileFormat.VICS if text.lstrip().startswith(("{", "[")) else FileFormat.CSV


def _file_of(entry: EntryIn) -> ManifestFile:
    hashes = entry.hashes
    return ManifestFile(
        md5=hashes.get("md5"),
        sha1=hashes.get("sha1"),
        sha256=hashes.get("sha256"),
        pdq=hashes.get("pdq"),
        pdq_quality=entry.pdq_quality if "pdq" in hashes else None,
    )


def read_manifest(stream: TextIO, file_format: FileFormat) -> Iterator[ManifestFile]:
    """The files of a manifest, in order, as they are read.

    After a bad record no file is given (nothing of the manifest will be stored) but the reading goes on, so
    that :class:`ManifestError`, raised at the end, lists every bad record by line; a manifest listing no file
    is refused too. A consumer storing the files as they come has its unit of work rolled back by the error.
    """
    refusals = Refusals()
    files = 0
    try:
        for entry in refusals.sift(read_hash_file(stream, file_format)):
            files += 1
            if not refusals.count:
                yield _file_of(entry)
    except ImportFormatError as error:  # the rest of the file cannot be read
        refusals.add(RowError(line=error.line, reason=error.reason))
    if refusals.count:
        raise ManifestError(refusals.listed, refusals.count)
    if not files:
        raise ManifestError([RowError(line=1, reason=f"the {file_format.value} manifest lists no file")])


def parse_manifest(text: str, file_format: FileFormat | None = None) -> list[ManifestFile]:
    """The files of a manifest held in memory (:func:`read_manifest`); the format from the text if not given."""
    chosen = file_format or detect_format(text)
    return list(read_manifest(io.StringIO(text, newline=""), chosen))


def stored_file_batches(session: Session, submission_id: int, size: int) -> Iterator[list[tuple[int, ManifestFile]]]:
    """The submission's stored files, ``size`` at a time in manifest order: (id, hashes). Each batch is a query
    of its own, continuing after the last position, so no cursor stays open between batches."""
    after = 0
    while True:
        rows = session.execute(
            sa.select(
                SubmissionFile.position,
                SubmissionFile.id,
                SubmissionFile.md5,
                SubmissionFile.sha1,
                SubmissionFile.sha256,
                SubmissionFile.pdq,
                SubmissionFile.pdq_quality,
            )
            .where(SubmissionFile.submission_id == submission_id, SubmissionFile.position > after)
            .order_by(SubmissionFile.position)
            .limit(size)
        ).all()
        if not rows:
            return
        yield [(row.id, ManifestFile(*row[2:])) for row in rows]
        after = rows[-1].position


def _same_files(session: Session, submission_id: int, files: Iterable[ManifestFile]) -> bool:
    """Whether ``files`` are the files stored for the submission, in order; ``files`` is read to its end
    either way, so that a bad manifest is refused as such rather than as a different one."""
    stored = (file for batch in stored_file_batches(session, submission_id, BATCH) for _, file in batch)
    same = all(one == other for one, other in itertools.zip_longest(stored, files))
    collections.deque(files, maxlen=0)
    return same


def _has_files(session: Session, submission_id: int) -> bool:
    query = sa.select(SubmissionFile.id).where(SubmissionFile.submission_id == submission_id).limit(1)
    return session.scalar(query) is not None


def _store_files(session: Session, submission_id: int, files: Iterable[ManifestFile]) -> int:
    """Insert the files in batches of :data:`BATCH`, numbered in order; how many there were."""
    count = 0
    iterator = iter(files)
    while batch := list(itertools.islice(iterator, BATCH)):
        session.execute(
            sa.insert(SubmissionFile),
            [
                {
                    "submission_id": submission_id,
                    "position": position,
                    "md5": file.md5,
                    "sha1": file.sha1,
                    "sha256": file.sha256,
                    "pdq": file.pdq,
                    "pdq_quality": file.pdq_quality,
                }
                for position, file in enumerate(batch, start=count + 1)
            ],
        )
        count += len(batch)
    return count


def submit_manifest(
    *,
    session: Session,
    agency_id: int,
    case_number: str,
    files: Iterable[ManifestFile],
    actor: str,
    submitted_at: dt.datetime | None = None,
) -> Submission:
    """Receive a submission with its manifest's files; the same manifest for the same case returns the stored one.

    ``files`` is read once, and stored in batches as it is (:func:`read_manifest`): an error raised while it is
    read, as by a bad manifest, must roll the caller's unit of work back. A case already on file with a
    different manifest is a Conflict (an agency adds files under a new case number), as is one whose review has
    already been done without a manifest.
    """
    data = SubmissionCreate(agency_id=agency_id, case_number=case_number, submitted_at=submitted_at)
    submission, new = service.find_or_add_submission(session=session, data=data)
    if _has_files(session, submission.id):
        if not _same_files(session, submission.id, files):
            raise Conflict(
                f"case {submission.case_number!r} of agency {submission.agency_id} is already on file with a "
                f"different manifest ({submission.file_count} files); send further files under a new case number"
            )
        return submission
    if submission.status is not SubmissionStatus.RECEIVED:
        collections.deque(files, maxlen=0)  # a bad manifest is refused as such
        raise Conflict(f"submission {submission.id} is {submission.status.value}; its manifest can no longer change")
    count = _store_files(session, submission.id, files)
    if not count:
        raise InputError("files", "a submission needs at least one file")
    submission.file_count = count
    if new:
        service.record_received(session=session, submission=submission, actor=actor)
    audit.record(
        session=session,
        actor=actor,
        action="manifest_received",
        subject_type=service.SUBMISSION,
        subject_id=submission.id,
        detail={"files": count},
    )
    optimize(session)
    return submission
