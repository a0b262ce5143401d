"""The review report an agency receives for a submission: categories and identified series, as JSON or PDF.

What it carries: the submission (agency, case number, dates), the files reviewed and unique by MD5 in each
series category (`victim_id.counts`), and each identified series its files were found in, by code, with how
many files the review found and how many an analyst attached later. What it never carries: images (none are
kept), file names, children's names, or anything a bank entry holds beyond its series code. Series still being
tracked are counted, not named, so that an unidentified child's series code does not leave the clearinghouse
with a case file. A series counts as identified if it is identified when the report is made.

Making a report is a read of it, and leaves an audit event (``report_read``) in the caller's unit of work.
"""

from __future__ import annotations

import datetime as dt
import json
from functools import cache

import jinja2
import sqlalchemy as sa
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from clearinghouse.access import audit
from clearinghouse.db.base import utcnow
from clearinghouse.errors import Conflict
from clearinghouse.geo.models import Agency
from clearinghouse.victim_id import service
from clearinghouse.victim_id.counts import category_counts
from clearinghouse.victim_id.models import (
    FileCategory,
    FileSeries,
    LinkSource,
    QueueItem,
    QueueState,
    Series,
    SeriesStatus,
    SubmissionFile,
    SubmissionStatus,
)

CATEGORY_LABELS = {
    FileCategory.IDENTIFIED: "In an identified series",
    FileCategory.TRACKED: "In a series being tracked (child not yet identified)",
    FileCategory.NOT_DETERMINABLE: "Age, identity or act not yet determinable",
    FileCategory.NO_SERIES: "No series yet",
}


class CategoryLine(BaseModel):
    """Files of the submission in one series category (``total``: every file once)."""

    category: str
    label: str
    files: int
    unique_md5: int


class IdentifiedSeriesLine(BaseModel):
    """An identified series found among the submission's files."""

    code: str
    files: int = Field(description="Files the review found in the series.")
    attached_by_analyst: int = Field(description="Files an analyst placed in the series after the review.")


class ReviewReport(BaseModel):
    """The agency's report of one reviewed submission (no images, no names)."""

    submission_id: int
    agency_id: int
    agency: str
    jurisdiction: str
    case_number: str
    submitted_at: dt.datetime
    review_completed_at: dt.datetime
    categories: list[CategoryLine]
    identified_series: list[IdentifiedSeriesLine]
    tracked_series: int = Field(description="Distinct series being tracked that the files were found in.")
    waiting_for_analysts: int = Field(description="Unrecognised files still waiting for an analyst.")
    generated_at: dt.datetime
    notes: list[str]


NOTES = [
    "A file can show children of several series, so it can count in more than one category; the total counts "
    "each file once.",
    "Unique files are distinct MD5 values; files listed without an MD5 are not among them.",
    "Categories are those of the review; series identified since are listed as identified.",
]


def build_report(*, session: Session, submission_id: int, actor: str) -> ReviewReport:
    """The report of a reviewed submission; recording that ``actor`` read it."""
    submission = service.get_submission(session=session, submission_id=submission_id)
    if submission.status is not SubmissionStatus.REVIEWED or submission.review_completed_at is None:
        raise Conflict(f"submission {submission.id} is {submission.status.value}; a report needs a completed review")
    agency = session.get(Agency, submission.agency_id)
    assert agency is not None  # a foreign key guarantees it
    categories = [
        CategoryLine(
            category=str(count.category or "total"),
            label=CATEGORY_LABELS[count.category] if count.category else "Total (each file once)",
            files=count.files,
            unique_md5=count.unique_md5,
        )
        for count in category_counts(session, submission_id=submission.id)
    ]
    of_submission = SubmissionFile.submission_id == submission.id
    per_series = session.execute(
        sa.select(Series.code, FileSeries.source, sa.func.count(sa.distinct(FileSeries.file_id)))
        .join(FileSeries, FileSeries.series_id == Series.id)
        .join(SubmissionFile, SubmissionFile.id == FileSeries.file_id)
        .where(of_submission, Series.status == SeriesStatus.IDENTIFIED)
        .group_by(Series.code, FileSeries.source)
    ).all()
    found: dict[str, dict[LinkSource, int]] = {}
    for code, source, files in per_series:
        found.setdefault(code, {})[LinkSource(source)] = int(files)
    tracked = session.scalar(
        sa.select(sa.func.count(sa.distinct(FileSeries.series_id)))
        .join(SubmissionFile, SubmissionFile.id == FileSeries.file_id)
        .join(Series, Series.id == FileSeries.series_id)
        .where(of_submission, Series.status == SeriesStatus.TRACKED)
    )
    waiting = session.scalar(
        sa.select(sa.func.count())
        .select_from(QueueItem)
        .join(SubmissionFile, SubmissionFile.id == QueueItem.file_id)
        .where(of_submission, QueueItem.state == QueueState.WAITING)
    )
    report = ReviewReport(
        submission_id=submission.id,
        agency_id=agency.id,
        agency=agency.name,
        jurisdiction=agency.jurisdiction_code,
        case_number=submission.case_number,
        submitted_at=submission.submitted_at,
        review_completed_at=submission.review_completed_at,
        categories=categories,
        identified_series=[
            IdentifiedSeriesLine(
                code=code, files=by.get(LinkSource.REVIEW, 0), attached_by_analyst=by.get(LinkSource.ANALYST, 0)
            )
            for code, by in sorted(found.items(), key=lambda item: (-sum(item[1].values()), item[0]))
        ],
        tracked_series=int(tracked or 0),
        waiting_for_analysts=int(waiting or 0),
        generated_at=utcnow(),
        notes=NOTES,
    )
    audit.record(
        session=session,
        actor=actor,
        action="report_read",
        subject_type=service.SUBMISSION,
        subject_id=submission.id,
        detail={"identified_series": len(report.identified_series)},
    )
    return report


def report_json(report: ReviewReport) -> str:
    """The report as a JSON document."""
    return json.dumps(report.model_dump(mode="json"), indent=2, ensure_ascii=False) + "\n"


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("clearinghouse.victim_id", "templates"),
        autoescape=True,  # agency names and case numbers are outside input
        undefined=jinja2.StrictUndefined,
    )


def report_html(report: ReviewReport) -> str:
    """The report as a standalone HTML page (the PDF's source)."""
    return _environment().get_template("review_report.html.j2").render(report=report)


def report_pdf(report: ReviewReport) -> bytes:
    """The report as PDF, printed by WeasyPrint through the impact program's renderer."""
    from clearinghouse.impact.render import html_to_pdf

    return html_to_pdf(report_html(report))
