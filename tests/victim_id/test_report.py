"""The agency's review report (no images, no names) and the quarterly distribution export."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Callable

import pypdf
import pytest

from clearinghouse.access.models import AuditEvent
from clearinghouse.db.engine import Store
from clearinghouse.errors import Conflict, InputError
from clearinghouse.geo.models import AgencyKind
from clearinghouse.victim_id import export, queue, service
from clearinghouse.victim_id.models import Submission
from clearinghouse.victim_id.report import ReviewReport, build_report, report_json, report_pdf
from clearinghouse.victim_id.review import run_review
from clearinghouse.victim_id.schemas import IdentificationCreate
from tests.victim_id import world
from tests.victim_id.world import PLANTED_NAME, REVIEWED, md5

AgencyId = Callable[[str, AgencyKind], int]
REPORT_KEYS = {
    "submission_id",
    "agency_id",
    "agency",
    "jurisdiction",
    "case_number",
    "submitted_at",
    "review_completed_at",
    "categories",
    "identified_series",
    "tracked_series",
    "waiting_for_analysts",
    "generated_at",
    "notes",
}


@pytest.fixture
def reviewed(seeded: Store, agency_id: AgencyId) -> Submission:
    """The world's submission from a Washington task force, reviewed on REVIEWED."""
    world.build(seeded)
    submission = world.submit(seeded, agency_id("WA", AgencyKind.ICAC_TASK_FORCE))
    with seeded.unit_of_work() as session:
        run_review(session=session, submission_id=submission.id, actor="analyst", at=REVIEWED)
    return submission


def _report(store: Store, submission_id: int) -> ReviewReport:
    with store.unit_of_work() as session:
        return build_report(session=session, submission_id=submission_id, actor="officer")


def test_report_counts_and_series_without_names(seeded: Store, reviewed: Submission) -> None:
    report = _report(seeded, reviewed.id)
    document = json.loads(report_json(report))
    assert set(document) == REPORT_KEYS
    assert [(line["category"], line["files"], line["unique_md5"]) for line in document["categories"]] == [
        ("identified_series", 4, 3),
        ("tracked_series", 2, 2),
        ("not_determinable", 3, 3),
        ("no_series", 4, 3),
        ("total", 12, 10),
    ]
    assert document["identified_series"] == [{"code": "SER-ID-1", "files": 4, "attached_by_analyst": 0}]
    assert (document["tracked_series"], document["waiting_for_analysts"]) == (1, 3)
    text = report_json(report).lower()
    for leak in (PLANTED_NAME.lower(), "jane", "roe", "filename", ".jpg", "ser-tr-1", "never-registered"):
        assert leak not in text


def test_report_pdf_renders_the_same_figures(seeded: Store, reviewed: Submission) -> None:
    pdf = report_pdf(_report(seeded, reviewed.id))
    assert pdf.startswith(b"%PDF")
    text = "".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages)
    assert "SER-ID-1" in text
    assert "2023-ICAC-0042" in text
    assert "Jane" not in text
    assert "SER-TR-1" not in text


def test_report_shows_later_attachments_and_identifications(seeded: Store, reviewed: Submission) -> None:
    with seeded.unit_of_work() as session:
        waiting = {item.md5: item.file_id for item in queue.list_waiting(session=session)}
        queue.attach_to_series(session=session, code="SER-ID-1", file_ids=[waiting[md5(9)]], actor="analyst")
        tracked = service.get_series_by_code(session=session, code="SER-TR-1")
        data = IdentificationCreate(
            reference="ID-9", identified_at=REVIEWED + dt.timedelta(days=3), series_id=tracked.id
        )
        service.record_identification(session=session, data=data)
    report = _report(seeded, reviewed.id)
    assert [(s.code, s.files, s.attached_by_analyst) for s in report.identified_series] == [
        ("SER-ID-1", 4, 1),
        ("SER-TR-1", 2, 0),
    ]
    assert (report.tracked_series, report.waiting_for_analysts) == (0, 2)
    # The categories stay those of the review.
    assert [line.files for line in report.categories] == [4, 2, 3, 4, 12]


def test_a_report_needs_a_completed_review_and_its_read_is_recorded(
    seeded: Store, reviewed: Submission, agency_id: AgencyId, row_count: Callable[[type], int]
) -> None:
    pending = world.submit(seeded, agency_id("OR", AgencyKind.ICAC_TASK_FORCE), case="P-1", numbers=(1,))
    with pytest.raises(Conflict, match="received"):
        _report(seeded, pending.id)
    before = row_count(AuditEvent)
    _report(seeded, reviewed.id)
    assert row_count(AuditEvent) == before + 1


def test_quarterly_export_lists_where_identified_series_were_found(
    seeded: Store, reviewed: Submission, agency_id: AgencyId
) -> None:
    oregon = agency_id("OR", AgencyKind.ICAC_TASK_FORCE)
    later = world.submit(seeded, oregon, case="OR-7", numbers=(2, 3, 9))
    with seeded.unit_of_work() as session:
        run_review(session=session, submission_id=later.id, actor="analyst", at=REVIEWED + dt.timedelta(days=1))
    with seeded.unit_of_work() as session:
        lines = export.distribution(session=session, year=2023, quarter=2, actor="notifier")
        assert export.distribution(session=session, year=2023, quarter=3, actor="notifier") == []
    assert [(line.series, line.identified_on, line.files) for line in lines] == [("SER-ID-1", dt.date(2022, 1, 10), 5)]
    assert [(found.jurisdiction, found.submissions, found.files) for found in lines[0].found_at] == [
        ("WA", 1, 4),
        ("OR", 1, 1),
    ]
    rows = list(csv.DictReader(io.StringIO(export.to_csv(lines))))
    assert [(row["series"], row["jurisdiction"], row["files"]) for row in rows] == [
        ("SER-ID-1", "WA", "4"),
        ("SER-ID-1", "OR", "1"),
    ]
    document = json.loads(export.to_json(lines, 2023, 2))
    assert (document["from"], document["to"]) == ("2023-04-01T00:00:00+00:00", "2023-07-01T00:00:00+00:00")
    assert document["series"][0]["found_at"][0]["agency_id"] == reviewed.agency_id


@pytest.mark.parametrize(
    ("year", "quarter", "start", "end"),
    [(2023, 1, (2023, 1), (2023, 4)), (2023, 4, (2023, 10), (2024, 1)), (2024, 3, (2024, 7), (2024, 10))],
)
def test_quarter_bounds(year: int, quarter: int, start: tuple[int, int], end: tuple[int, int]) -> None:
    assert export.quarter_bounds(year, quarter) == (
        dt.datetime(*start, 1, tzinfo=dt.UTC),
        dt.datetime(*end, 1, tzinfo=dt.UTC),
    )
    with pytest.raises(InputError, match="quarter"):
        export.quarter_bounds(year, 5)
