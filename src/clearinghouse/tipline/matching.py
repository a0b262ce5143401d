"""The *match* step: is each file of a report content seen before, or new?

A file is **previously seen** when its exact hash is already on file: its MD5 appears in a file of an earlier
report (a lower report id, whatever the platform), or a known-content bank holds one of its hashes. Otherwise
it is **new**. A file without an MD5 that no bank knows stays unknown (``previously_seen`` NULL).

Two sources answer: `PreviousReports` (exact MD5 over the files the store holds, always asked) and the
known-content banks of `clearinghouse.hashing`, through its matcher's batch lookup (`KnownContentBanks`). The
banks are asked with the exact hashes (MD5, SHA-1, SHA-256) and with the PDQ hash when its quality is usable: a
re-encoded, resized or slightly cropped copy of banked content is content seen before, which is what priority
needs to know (analysts are spared known material either way). `Matcher` is the small interface the pipeline
calls, so another source plugs in without touching the pipeline; a file is previously seen if any source knows it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import sqlalchemy as sa
from sqlalchemy.orm import Session

from clearinghouse.db.base import table_of
from clearinghouse.tipline import fastsql
from clearinghouse.tipline.models import ReportFile

if TYPE_CHECKING:
    from clearinghouse.hashing.matcher import Matcher as HashingMatcher

LOOKUP_CHUNK = 900
_FILES = table_of(ReportFile)


@dataclass(frozen=True, slots=True)
class FileHashes:
    """The hashes of one file of a queued report."""

    file_id: int
    report_id: int
    md5: str | None = None
    sha1: str | None = None
    sha256: str | None = None
    pdq: str | None = None
    pdq_quality: int | None = None


class Matcher(Protocol):
    """Looks a batch of files up in known content; answers, per file, whether it is known."""

    def lookup(self, session: Session, files: Sequence[FileHashes]) -> list[bool]:
        """True for each file whose content is known."""
        ...


class KnownContentBanks:
    """The hashing program's banks, asked through its matcher's batch lookup with each file's exact hashes.

    A file on an allow-list counts as known too: it is content seen before, if benign.
    """

    def __init__(self, matcher: HashingMatcher) -> None:
        self.matcher = matcher

    @classmethod
    def from_store(cls, session: Session) -> KnownContentBanks | None:
        """The banks as the store holds them now, or None while no bank holds a hash (nothing to ask)."""
        from clearinghouse.hashing.models import BankHash

        if session.scalar(sa.select(BankHash.id).limit(1)) is None:
            return None
        from clearinghouse.hashing.matcher import Matcher as Built  # numpy and faiss: only when there is a bank

        return cls(Built.from_store(session=session, workers=1))

    def lookup(self, session: Session, files: Sequence[FileHashes]) -> list[bool]:
        """True for each file a bank knows, by an exact hash or by a PDQ hash within the match distance."""
        from clearinghouse.hashing.schemas import HashQuery

        asked = [i for i, f in enumerate(files) if f.md5 or f.sha1 or f.sha256 or f.pdq]
        queries = [
            HashQuery(
                md5=files[i].md5,
                sha1=files[i].sha1,
                sha256=files[i].sha256,
                pdq=files[i].pdq,
                pdq_quality=files[i].pdq_quality if files[i].pdq else None,
            )
            for i in asked
        ]
        known = [False] * len(files)
        if queries:
            for index, result in zip(asked, self.matcher.lookup_many(session=session, queries=queries), strict=True):
                known[index] = bool(result.matches or result.allow_listed)
        return known

    def close(self) -> None:
        """Stop the matcher's worker threads."""
        self.matcher.close()


class PreviousReports:
    """Exact MD5 matching against the files of earlier reports in the store.

    "Earlier" is by report id, so the answer does not depend on when the step runs: reprocessing a report
    gives the same answer, and of two reports with the same file in one batch only the later one has seen it.
    """

    def __init__(self, session: Session) -> None:
        self.session = session

    def first_reports(self, md5s: Sequence[str]) -> dict[str, int]:
        """For each MD5, the lowest report id holding a file with it."""
        unique = sorted(set(md5s))
        first: dict[str, int] = {}
        for start in range(0, len(unique), LOOKUP_CHUNK):
            chunk = unique[start : start + LOOKUP_CHUNK]
            query = (  # Core, not the ORM: a batch's look-ups return thousands of rows
                sa.select(_FILES.c.md5, sa.func.min(_FILES.c.report_id))
                .where(fastsql.among(self.session, _FILES.c.md5, chunk))
                .group_by(_FILES.c.md5)
            )
            first.update((str(md5), int(report_id)) for md5, report_id in self.session.execute(query))
        return first

    def lookup(self, files: Sequence[FileHashes], *, stored: bool = True) -> list[bool]:
        """True for each file whose MD5 is in a file of an earlier report.

        With ``stored`` False the files are not in the store yet (they are filed in the same transaction):
        their own reports, all later than any stored one, count as earlier reports for the ones after them.
        """
        first = self.first_reports([f.md5 for f in files if f.md5 is not None])
        if not stored:
            for f in files:
                if f.md5 is not None:
                    first[f.md5] = min(first.get(f.md5, f.report_id), f.report_id)
        return [f.md5 is not None and first.get(f.md5, f.report_id) < f.report_id for f in files]


def previously_seen(
    session: Session, files: Sequence[FileHashes], banks: Sequence[Matcher] = (), *, stored: bool = True
) -> list[bool | None]:
    """Per file: True (seen before), False (new), None (no MD5 and no bank knows it: cannot tell).

    ``stored``: whether the files are in the store already (see `PreviousReports.lookup`).
    """
    seen: list[bool | None] = [
        known if known or f.md5 is not None else None
        for f, known in zip(files, PreviousReports(session).lookup(files, stored=stored), strict=True)
    ]
    for bank in banks:
        for index, known in enumerate(bank.lookup(session, files)):
            if known:
                seen[index] = True
    return seen
