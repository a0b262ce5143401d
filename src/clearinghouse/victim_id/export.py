"""The quarterly distribution export: for each identified series, where its files were found that quarter.

Victim-notification programs use it to tell an identified child's representatives that the child's images
circulated, and where. A quarter is a calendar quarter in UTC (Q1 = January to March). A file counts in the
quarter it was found in a series: when the review completed, or when an analyst attached it afterwards. Only
series identified when the export is made are listed; each line is one series and one submitting agency (with
its jurisdiction), with the submissions and files. Nothing about the child is written but the series code and
the date of the first identification. Making the export leaves an audit event.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json

import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy.orm import Session

from clearinghouse.access import audit
from clearinghouse.db.base import utcnow
from clearinghouse.errors import InputError
from clearinghouse.geo.models import Agency
from clearinghouse.victim_id.models import (
    FileSeries,
    Identification,
    Series,
    SeriesStatus,
    Submission,
    SubmissionFile,
)

CSV_COLUMNS = ("series", "identified_on", "agency_id", "agency", "jurisdiction", "submissions", "files")
EXPORT = "vid_distribution_export"


class FoundAt(BaseModel):
    """One agency's submissions in which a series' files were found."""

    agency_id: int
    agency: str
    jurisdiction: str
    submissions: int
    files: int


class SeriesDistribution(BaseModel):
    """Where one identified series' files were found in the quarter."""

    series: str
    identified_on: dt.date | None
    files: int
    found_at: list[FoundAt]


def quarter_bounds(year: int, quarter: int) -> tuple[dt.datetime, dt.datetime]:
    """The half-open UTC interval of a calendar quarter."""
    if quarter not in (1, 2, 3, 4):
        raise InputError("quarter", "expected 1, 2, 3 or 4", quarter)
    if not 1900 <= year <= 9998:  # the years `vid export --year` takes; a quarter of 9999 would end in 10000
        raise InputError("year", "expected a year from 1900 to 9998", year)
    start = dt.datetime(year, 3 * quarter - 2, 1, tzinfo=dt.UTC)
    end = dt.datetime(year + quarter // 4, 3 * quarter % 12 + 1, 1, tzinfo=dt.UTC)
    return start, end


def distribution(*, session: Session, year: int, quarter: int, actor: str) -> list[SeriesDistribution]:
    """Per identified series (most files first), the agencies whose submissions held its files in the quarter."""
    start, end = quarter_bounds(year, quarter)
    first_identified = (
        sa.select(Identification.series_id, sa.func.min(Identification.identified_at).label("first"))
        .group_by(Identification.series_id)
        .subquery()
    )
    rows = session.execute(
        sa.select(
            Series.code,
            first_identified.c.first,
            Agency.id,
            Agency.name,
            Agency.jurisdiction_code,
            sa.func.count(sa.distinct(Submission.id)),
            sa.func.count(sa.distinct(FileSeries.file_id)),
        )
        .join(FileSeries, FileSeries.series_id == Series.id)
        .join(SubmissionFile, SubmissionFile.id == FileSeries.file_id)
        .join(Submission, Submission.id == SubmissionFile.submission_id)
        .join(Agency, Agency.id == Submission.agency_id)
        .outerjoin(first_identified, first_identified.c.series_id == Series.id)
        .where(Series.status == SeriesStatus.IDENTIFIED, FileSeries.found_at >= start, FileSeries.found_at < end)
        .group_by(Series.code, first_identified.c.first, Agency.id, Agency.name, Agency.jurisdiction_code)
    ).all()
    by_series: dict[str, SeriesDistribution] = {}
    for code, first, agency_id, agency, jurisdiction, submissions, files in rows:
        identified_on = first.date() if isinstance(first, dt.datetime) else None
        line = by_series.setdefault(
            code, SeriesDistribution(series=code, identified_on=identified_on, files=0, found_at=[])
        )
        line.found_at.append(
            FoundAt(agency_id=agency_id, agency=agency, jurisdiction=jurisdiction, submissions=submissions, files=files)
        )
        line.files += int(files)
    for line in by_series.values():
        line.found_at.sort(key=lambda found: (-found.files, found.agency_id))
    audit.record(
        session=session,
        actor=actor,
        action="exported",
        subject_type=EXPORT,
        subject_id=f"{year}Q{quarter}",
        detail={"series": len(by_series)},
    )
    return sorted(by_series.values(), key=lambda line: (-line.files, line.series))


def to_csv(lines: list[SeriesDistribution]) -> str:
    """One CSV line per series and agency."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for line in lines:
        identified = line.identified_on.isoformat() if line.identified_on else ""
        for found in line.found_at:
            writer.writerow(
                (
                    line.series,
                    identified,
                    found.agency_id,
                    found.agency,
                    found.jurisdiction,
                    found.submissions,
                    found.files,
                )
            )
    return out.getvalue()


def to_json(lines: list[SeriesDistribution], year: int, quarter: int) -> str:
    """The export as one JSON document, with its period."""
    start, end = quarter_bounds(year, quarter)
    document = {
        "year": year,
        "quarter": quarter,
        "from": start.isoformat(),
        "to": end.isoformat(),
        "generated_at": utcnow().isoformat(timespec="seconds"),
        "series": [line.model_dump(mode="json") for line in lines],
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
