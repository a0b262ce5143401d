"""Bulk NDJSON intake: bad lines reported by number and reason, good lines stored, idempotent on the platform's
report id, and every stored report complete (its files and its audit event)."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import sqlalchemy as sa

from clearinghouse.access.models import AuditEvent
from clearinghouse.db.engine import Store
from clearinghouse.tipline.bulk import BulkLine, parse_line
from clearinghouse.tipline.filing import FiledReport, file_reports
from clearinghouse.tipline.lines import MAX_LINE_BYTES, TOO_LONG, numbered_lines
from clearinghouse.tipline.models import FileKind, Report, ReportFile, ReportStatus
from clearinghouse.tipline.onepass import Processing
from clearinghouse.tipline.wire_schemas import MAX_ENTRIES, MAX_REPORT_ENTRIES, TOO_MANY_ENTRIES, ReportIntake
from tests.tipline.bulk_helpers import T0, crowd, doc, image, line, md5, ready, report_by_ref, send


def _counts(store: Store) -> tuple[int, int, int]:
    with store.session() as session:
        reports = session.scalar(sa.select(sa.func.count()).select_from(Report)) or 0
        files = session.scalar(sa.select(sa.func.count()).select_from(ReportFile)) or 0
        filed = session.scalar(sa.select(sa.func.count()).where(AuditEvent.action == "report.filed")) or 0
    return reports, files, filed


def test_good_lines_are_stored_and_bad_lines_are_reported_by_number(any_store: Store) -> None:
    platform = ready(any_store)
    lines = [
        line("r-1", files=[image(1), image(2, annotations=["viral"])]),
        b"{not json",
        line("r-2", doc(incident_type="Something Else")),
        b"   ",
        line("r-3", doc(state="CA"), at=T0 + dt.timedelta(minutes=1)),
        json.dumps({"platform_report_id": "r-4", "received_at": "2023-05-01T12:00:00", "report": doc()}).encode(),
        line("r-5", files=[{"kind": "image"}]),
    ]
    summary = send(any_store, platform, lines)
    assert [(o.line, o.platform_report_id, o.created) for o in summary.stored] == [(1, "r-1", True), (5, "r-3", True)]
    problems = {p.line: p for p in summary.rejected}
    assert sorted(problems) == [2, 3, 6, 7]
    assert problems[2].platform_report_id is None
    assert problems[2].errors[0].field == "(line)"
    assert problems[3].platform_report_id == "r-2"
    assert [e.field for e in problems[3].errors] == ["report.incident_type"]
    assert [e.field for e in problems[6].errors] == ["received_at"]  # no time zone
    assert "at least one of md5" in problems[7].errors[0].message
    answer = summary.as_json()
    assert (answer["accepted"], answer["already_on_file"], answer["rejected"]) == (2, 0, 4)
    assert answer["errors"][1] == {
        "line": 3,
        "platform_report_id": "r-2",
        "errors": [{"field": "report.incident_type", "message": problems[3].errors[0].message}],
    }
    first = report_by_ref(any_store, platform, "r-1")
    assert (first.status, first.received_at, first.file_count) == (ReportStatus.FINISHED, T0, 2)
    assert first.location_evidence == [{"kind": "estimated_location", "region": "NC", "country": "US"}]
    with any_store.session() as session:
        files = session.scalars(sa.select(ReportFile).where(ReportFile.report_id == first.id).order_by(ReportFile.id))
        stored = [(f.file_ref, f.kind, f.md5, f.details) for f in files]
    assert sorted(stored) == [
        (f"{first.id}-1", FileKind.IMAGE, md5(1), None),
        (f"{first.id}-2", FileKind.IMAGE, md5(2), {"annotations": ["viral"]}),
    ]
    assert _counts(any_store) == (2, 2, 2)


def _with(ref: str, *, received: str = "2023-05-01T12:00:00Z", **fields: object) -> bytes:
    return json.dumps({"platform_report_id": ref, "received_at": received, "report": doc(), **fields}).encode()


def test_lines_no_store_can_keep_are_refused_by_name_and_the_rest_is_processed(any_store: Store) -> None:
    """Each of these once crashed a whole chunk (or left a report that stopped the pipeline's queue for good)."""
    platform = ready(any_store)
    too_deep = line("deep")[:-1] + b', "extra": ' + b"[" * 1000 + b"]" * 1000 + b"}"
    ancient = doc()
    ancient["incident_at"] = "0001-01-01T00:00:00+05:00"
    lines = [
        b"\xef\xbb\xbf" + line("bom", files=[image(1)]),  # a UTF-8 byte order mark before the first line
        too_deep,
        _with("year-1", received="0001-01-01T00:00:00Z"),
        _with("year-1-east", received="0001-01-01T00:00:00+05:00"),
        json.dumps({"platform_report_id": "inc", "received_at": "2023-05-01T12:00:00Z", "report": ancient}).encode(),
        _with("huge", files=[{"kind": "image", "md5": md5(5), "size": 2**63}]),
        _with("nul\u0000id"),
        "{}".encode("utf-16-le"),
        line("last", files=[image(2)]),
    ]
    summary = send(any_store, platform, lines, processing=Processing())
    assert [o.platform_report_id for o in summary.stored] == ["bom", "last"]
    problems = {p.line: [(e.field, e.message) for e in p.errors] for p in summary.rejected}
    assert sorted(problems) == [2, 3, 4, 5, 6, 7, 8]
    assert "recursion" in problems[2][0][1]
    assert problems[3][0][0] == problems[4][0][0] == "received_at"
    assert "out of range" in problems[3][0][1]
    assert problems[5][0][0] == "report.incident_at"
    assert problems[6][0][0] == "files.0.size"
    assert "NUL character" in problems[7][0][1]
    assert "not UTF-8" in problems[8][0][1]
    with any_store.session() as session:
        queued = session.scalar(sa.select(sa.func.count()).select_from(Report).where(Report.processed_at.is_(None)))
    assert queued == 0


def test_an_import_refuses_a_line_of_more_entries_in_all_than_the_bound(store: Store) -> None:
    platform = ready(store)
    # A list over its own bound is counted up to where validation stops, and so are the lists of those entries.
    over_its_own = [{"associated_accounts": [{"type": "Other"}] * 9}] * (MAX_ENTRIES + 1)
    lines = [
        line("crowded", doc(reported_persons=crowd(MAX_REPORT_ENTRIES + 1))),
        line("full", doc(reported_persons=crowd(MAX_REPORT_ENTRIES))),
        line("crowded-list", doc(reported_persons=over_its_own)),
    ]
    summary = send(store, platform, lines, processing=Processing())
    assert [o.platform_report_id for o in summary.stored] == ["full"]
    refused = [(p.line, p.platform_report_id, [(e.field, e.message) for e in p.errors]) for p in summary.rejected]
    too_many = [("report", TOO_MANY_ENTRIES)]
    assert refused == [(1, "crowded", too_many), (3, "crowded-list", too_many)]
    assert _counts(store)[0] == 1


def test_a_retried_batch_creates_no_duplicate(any_store: Store) -> None:
    platform = ready(any_store)
    batch = [line(f"r-{i}", files=[image(i)]) for i in range(10)]
    first = send(any_store, platform, batch[:6], chunk_lines=4)
    assert first.accepted == 6
    again = send(any_store, platform, batch, chunk_lines=4)  # the platform timed out and sends everything again
    assert (again.accepted, again.already_on_file) == (4, 6)
    ids = {o.platform_report_id: o.report_id for o in first.stored}
    assert all(ids[o.platform_report_id] == o.report_id for o in again.stored if not o.created)
    assert _counts(any_store) == (10, 10, 10)


def test_a_repeated_id_inside_one_batch_is_stored_once(store: Store) -> None:
    platform = ready(store)
    summary = send(store, platform, [line("same"), line("other"), line("same", doc(state="CA"))])
    outcomes = [(o.line, o.created) for o in summary.stored]
    assert outcomes == [(1, True), (2, True), (3, False)]
    assert summary.stored[2].report_id == summary.stored[0].report_id
    evidence = report_by_ref(store, platform, "same").location_evidence
    assert evidence is not None
    assert evidence[0]["region"] == "NC"  # the first one counts


def test_ids_are_per_platform(store: Store) -> None:
    one, two = ready(store), ready(store, "Other Photos")
    assert send(store, one, [line("r-1")]).accepted == 1
    assert send(store, two, [line("r-1")]).accepted == 1


def test_a_received_time_in_the_future_is_refused() -> None:
    now = dt.datetime(2023, 5, 1, tzinfo=dt.UTC)
    fine = parse_line(1, line("a", at=now + dt.timedelta(minutes=4)), now=now)
    late = parse_line(2, line("b", at=now + dt.timedelta(hours=1)), now=now)
    assert isinstance(fine, tuple)
    assert not isinstance(late, tuple)
    assert late.errors[0].field == "received_at"


def test_parsing_in_worker_processes_stores_the_same(store: Store) -> None:
    platform = ready(store)
    lines = [line(f"r-{i}", files=[image(i)]) for i in range(30)] + [b"oops"]
    summary = send(store, platform, lines, workers=2, chunk_lines=7)
    assert (summary.accepted, [p.line for p in summary.rejected]) == (30, [31])
    assert [o.line for o in summary.stored] == list(range(1, 31))


def test_numbered_lines_survive_any_chunking() -> None:
    text = b'{"a": 1}\n\n{"b": 2}\r\n   \n{"c": 3}'
    expected = [(1, b'{"a": 1}'), (3, b'{"b": 2}\r'), (5, b'{"c": 3}')]
    for size in (1, 2, 3, 7, len(text)):
        pieces = [text[i : i + size] for i in range(0, len(text), size)]
        assert list(numbered_lines(pieces)) == expected


def test_the_file_digests_of_the_json_api_are_valid_bulk_files() -> None:
    from clearinghouse.tipline.json_api import FileDigestIn

    shared = set(FileDigestIn.model_fields) - {"annotations"}
    assert shared <= set(BulkLine.model_fields["files"].annotation.__args__[0].model_fields)  # type: ignore[union-attr]


def test_a_blank_clue_is_left_out_rather_than_failing_the_batch(store: Store) -> None:
    platform = ready(store)
    blank = doc(
        reported_persons=[{"person": {"addresses": [{"state": " "}]}, "ip_capture_events": [{"ip_address": " "}]}]
    )
    assert send(store, platform, [line("blank", blank)]).accepted == 1
    assert report_by_ref(store, platform, "blank").location_evidence == []


def test_other_callers_still_file_through_file_reports(store: Store) -> None:
    platform = ready(store)
    intake = ReportIntake.model_validate(doc(state="NY"))
    filed = [FiledReport(intake=intake, received_at=T0, platform_ref="x"), FiledReport(intake=intake, received_at=T0)]
    with store.unit_of_work() as session:
        result = file_reports(session=session, platform_id=platform, reports=filed, actor="test")
    with store.unit_of_work() as session:
        again = file_reports(session=session, platform_id=platform, reports=filed[:1], actor="test")
    assert (len(result.created), again.created, again.duplicates) == (2, [], ["x"])
    assert again.report_ids == result.created[:1]


@pytest.mark.parametrize("size", [1, 4])
def test_every_stored_report_has_its_files_and_its_event(store: Store, size: int) -> None:
    platform = ready(store)
    send(store, platform, [line(f"r-{i}", files=[image(i), image(i + 100)]) for i in range(9)], chunk_lines=size)
    with store.session() as session:
        per_report = session.execute(
            sa.select(ReportFile.report_id, sa.func.count()).group_by(ReportFile.report_id)
        ).all()
        events = session.scalars(sa.select(AuditEvent.subject_id).where(AuditEvent.action == "report.filed")).all()
    assert sorted(count for _, count in per_report) == [2] * 9
    assert sorted(int(e) for e in events) == sorted(report_id for report_id, _ in per_report)


def test_a_file_of_more_annotations_than_a_list_may_hold_is_refused(store: Store) -> None:
    platform = ready(store)
    many = ["viral"] * (MAX_ENTRIES + 1)
    lines = [line("annotated", files=[image(1, annotations=many)]), line("plain", files=[image(2)])]
    summary = send(store, platform, lines)
    assert [o.platform_report_id for o in summary.stored] == ["plain"]
    [refused] = summary.rejected
    assert refused.platform_report_id == "annotated"
    assert [e.field for e in refused.errors] == ["files.0.annotations"]
    assert f"at most {MAX_ENTRIES} items" in refused.errors[0].message


def test_a_line_longer_than_a_report_may_be_is_refused_unread(store: Store) -> None:
    platform = ready(store)
    long_text = "z" * MAX_LINE_BYTES
    lines = [line("long", doc(state="NC", additional_info=long_text)), line("short")]
    summary = send(store, platform, lines)
    assert [o.platform_report_id for o in summary.stored] == ["short"]
    [refused] = summary.rejected
    assert (refused.line, refused.platform_report_id) == (1, None)
    assert [(e.field, e.message) for e in refused.errors] == [("(line)", TOO_LONG)]
    assert "10,485,760 bytes" in TOO_LONG
