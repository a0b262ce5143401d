"""Counting reviewed files by series category, shared by the agency's report and the national tables.

A file counts in the category of each series the review found it in (identified, tracked: a file showing two
children can count in both), or else in its own category (not determinable, no series). The total counts each
file once, so it can be less than the sum of the categories, as in the published tables. Unique files are
distinct MD5 values; a file listed without an MD5 is not counted among them. Links an analyst made after the
review never count here: the figures are what the review found.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from clearinghouse.victim_id.models import FileCategory, FileSeries, LinkSource, Submission, SubmissionFile

SERIES_CATEGORIES = (FileCategory.IDENTIFIED, FileCategory.TRACKED)
OWN_CATEGORIES = (FileCategory.NOT_DETERMINABLE, FileCategory.NO_SERIES)


@dataclass(frozen=True, slots=True)
class CategoryCount:
    """Files, and distinct MD5 values among them, in one category (or in all: ``category`` None)."""

    category: FileCategory | None
    files: int
    unique_md5: int


def _selection(
    submission_id: int | None, reviewed_from: dt.datetime | None, reviewed_to: dt.datetime | None
) -> list[sa.ColumnElement[bool]]:
    conditions: list[sa.ColumnElement[bool]] = [SubmissionFile.category.is_not(None)]
    if submission_id is not None:
        conditions.append(SubmissionFile.submission_id == submission_id)
    if reviewed_from is not None or reviewed_to is not None:
        reviewed = sa.select(Submission.id).where(Submission.review_completed_at.is_not(None))
        if reviewed_from is not None:
            reviewed = reviewed.where(Submission.review_completed_at >= reviewed_from)
        if reviewed_to is not None:
            reviewed = reviewed.where(Submission.review_completed_at < reviewed_to)
        conditions.append(SubmissionFile.submission_id.in_(reviewed.scalar_subquery()))
    return conditions


def category_counts(
    session: Session,
    *,
    submission_id: int | None = None,
    reviewed_from: dt.datetime | None = None,
    reviewed_to: dt.datetime | None = None,
) -> list[CategoryCount]:
    """The four categories in published order, then the total (``category`` None), over the reviewed files of
    one submission, or of the submissions whose review completed in [``reviewed_from``, ``reviewed_to``)."""
    where = _selection(submission_id, reviewed_from, reviewed_to)
    counts: dict[FileCategory, tuple[int, int]] = {}
    linked = (
        sa.select(
            FileSeries.category,
            sa.func.count(sa.distinct(SubmissionFile.id)),
            sa.func.count(sa.distinct(SubmissionFile.md5)),
        )
        .join(SubmissionFile, SubmissionFile.id == FileSeries.file_id)
        .where(FileSeries.source == LinkSource.REVIEW, *where)
        .group_by(FileSeries.category)
    )
    own = (
        sa.select(SubmissionFile.category, sa.func.count(), sa.func.count(sa.distinct(SubmissionFile.md5)))
        .where(SubmissionFile.category.in_(OWN_CATEGORIES), *where)
        .group_by(SubmissionFile.category)
    )
    for query in (linked, own):
        for category, files, unique in session.execute(query):
            if category is not None:
                counts[FileCategory(category)] = (int(files), int(unique))
    total_files, total_unique = session.execute(
        sa.select(sa.func.count(), sa.func.count(sa.distinct(SubmissionFile.md5))).where(*where)
    ).one()
    rows = [CategoryCount(category, *counts.get(category, (0, 0))) for category in FileCategory]
    rows.append(CategoryCount(None, int(total_files), int(total_unique)))
    return rows
