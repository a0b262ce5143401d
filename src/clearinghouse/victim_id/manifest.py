"""Manifests of law-enforcement submissions: hashes of seized files (VICS JSON or CSV), never the files themselves.

A manifest is read with the hashing program's own readers (`hashing.vics`, `hashing.csvio`, chosen as
`hashing.transfer` chooses), so the formats are those of docs/matching.md. Only the hashes of each file are
kept: the agency's own series, category and victim flags are not trusted (the review decides them against the
clearinghouse's banks), and file names and paths are dropped, since a name can carry a child's name.

A manifest with any bad record is refused whole, every bad record listed with its line, and nothing is stored:
an agency fixes its file and sends it again rather than having half a case reviewed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session

from clearinghouse.access import audit
from clearinghouse.errors import Conflict, InputError
from clearinghouse.hashing.schemas import EntryIn, HashQuery, ImportFormatError, RowError
from clearinghouse.hashing.transfer import FileFormat
from clearinghouse.hashing.transfer import parse as parse_hash_file
from clearinghouse.victim_id import service
from clearinghouse.victim_id.models import Submission, SubmissionFile, SubmissionStatus
from clearinghouse.victim_id.schemas import SubmissionCreate

SHOWN_ERRORS = 10
"""Bad records named in the error's message; every one of them is in ``ManifestError.errors``."""


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
    """A manifest refused whole: every bad record with its line (``errors``); nothing was stored."""

    def __init__(self, errors: Sequence[RowError]) -> None:
        self.errors = list(errors)
        shown = "; ".join(f"line {error.line}: {error.reason}" for error in self.errors[:SHOWN_ERRORS])
        more = len(self.errors) - SHOWN_ERRORS
        suffix = f"; and {more} more" if more > 0 else ""
        super().__init__("manifest", f"{len(self.errors)} bad record(s), nothing stored: {shown}{suffix}")


def detect_format(text: str, name: str | None = None) -> FileFormat:
    """VICS or CSV: from the file name's suffix when it tells, else from the first character of the text."""
    if name is not None and Path(name).suffix.lower() in (".json", ".csv"):
        return FileFormat.of(Path(name))
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


def parse_manifest(text: str, file_format: FileFormat | None = None) -> list[ManifestFile]:
    """The files of a manifest, in order; :class:`ManifestError` lists every bad record by line."""
    chosen = file_format or detect_format(text)
    try:
        entries, errors = parse_hash_file(text, chosen)
    except ImportFormatError as error:
        raise ManifestError([RowError(line=error.line, reason=error.reason)]) from error
    if errors:
        raise ManifestError(errors)
    if not entries:
        raise ManifestError([RowError(line=1, reason=f"the {chosen.value} manifest lists no file")])
    return [_file_of(entry) for entry in entries]


def _stored_files(session: Session, submission_id: int) -> list[ManifestFile]:
    rows = session.execute(
        sa.select(
            SubmissionFile.md5,
            SubmissionFile.sha1,
            SubmissionFile.sha256,
            SubmissionFile.pdq,
            SubmissionFile.pdq_quality,
        )
        .where(SubmissionFile.submission_id == submission_id)
        .order_by(SubmissionFile.position)
    ).all()
    return [ManifestFile(*row) for row in rows]


def submit_manifest(
    *,
    session: Session,
    agency_id: int,
    case_number: str,
    files: Sequence[ManifestFile],
    actor: str,
    submitted_at: dt.datetime | None = None,
) -> Submission:
    """Receive a submission with its manifest's files; the same manifest for the same case returns the stored one.

    A case already on file with a different manifest is a Conflict (an agency adds files under a new case
    number), as is one whose review has already been done without a manifest.
    """
    if not files:
        raise InputError("files", "a submission needs at least one file")
    data = SubmissionCreate(
        agency_id=agency_id, case_number=case_number, submitted_at=submitted_at, file_count=len(files)
    )
    submission = service.receive_submission(session=session, data=data, actor=actor)
    stored = _stored_files(session, submission.id)
    if stored:
        if stored != list(files):
            raise Conflict(
                f"case {submission.case_number!r} of agency {submission.agency_id} is already on file with a "
                f"different manifest ({len(stored)} files); send further files under a new case number"
            )
        return submission
    if submission.status is not SubmissionStatus.RECEIVED:
        raise Conflict(f"submission {submission.id} is {submission.status.value}; its manifest can no longer change")
    submission.file_count = len(files)
    session.execute(
        sa.insert(SubmissionFile),
        [
            {
                "submission_id": submission.id,
                "position": position,
                "md5": file.md5,
                "sha1": file.sha1,
                "sha256": file.sha256,
                "pdq": file.pdq,
                "pdq_quality": file.pdq_quality,
            }
            for position, file in enumerate(files, start=1)
        ],
    )
    audit.record(
        session=session,
        actor=actor,
        action="manifest_received",
        subject_type=service.SUBMISSION,
        subject_id=submission.id,
        detail={"files": len(files)},
    )
    return submission
