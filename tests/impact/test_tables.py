"""The national tables, counted on both stores from a small year of records whose every figure is known, their
CLI in each format, and their definitions in docs/metrics.md."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from clearinghouse.db.engine import Store
from clearinghouse.impact.tables import TABLES, NationalTable, all_tables, national_tables
from clearinghouse.impact.tables_cli import TABLE_NAMES, tables_command
from clearinghouse.tipline import pipeline
from clearinghouse.tipline.filing import FiledReport, file_reports
from clearinghouse.tipline.models import IncidentType, ReportSource
from clearinghouse.tipline.service import expire_stale, open_report, retract_report
from clearinghouse.tipline.wire_schemas import ReportIntake
from tests.tipline.bulk_helpers import ENTICEMENT, T0, doc, image, line, md5, ready, send

DOCS = Path(__file__).resolve().parents[2] / "docs" / "metrics.md"


def _batched(state: str, *ids: str) -> dict[str, Any]:
    return doc(state=state, batch={"reason": "VIRAL_POTENTIAL_MEME", "grouped_report_ids": list(ids)})


def _year(store: Store) -> None:
    """Nine reports in 2023 (and some that must not count) with known figures; see each table's test."""
    social, photos = ready(store, "Example Social"), ready(store, "Other Photos")
    toll_free = doc(reported_persons=[{"person": {"phones": [{"number": "+1 800 555 0100"}]}}])
    send(
        store,
        social,
        [
            line("a1", doc(state="NC"), files=[image(1)]),
            line("a2", doc(state="CA", escalation_reason="now"), files=[image(1), {"kind": "video", "md5": md5(2)}]),
            line("a3", doc(country="MX"), files=[image(3)]),
            line("a4", doc(annotations=["spam"])),
            line("a5", toll_free),
            line("lead", _batched("NC", "m1"), files=[image(4)]),
            line("m1", _batched("NY", "lead"), files=[image(4)]),
            line("old", doc(state="NC"), at=dt.datetime(2022, 12, 31, 23, 0, tzinfo=dt.UTC)),
        ],
    )
    victim = [{"person": {"age": 12}}]
    send(store, photos, [line("b1", doc(incident_type=ENTICEMENT, state="NY", victims=victim))])
    with store.unit_of_work() as session:
        public = ReportIntake.model_validate(doc(state="TX"))
        filed = FiledReport(intake=public, received_at=T0, source=ReportSource.PUBLIC)
        file_reports(session=session, platform_id=None, reports=[filed], actor="public")
        drafts = [
            open_report(  # never finished: one expires, one is retracted, one stays open
                session=session,
                incident_type=IncidentType.CHILD_PORNOGRAPHY,
                source=ReportSource.PLATFORM,
                body={},
                actor="test",
                platform_id=social,
                at=at,
            )
            for at in (T0 - dt.timedelta(days=2), T0, T0)
        ]
        assert expire_stale(session=session, now=T0) == 1
        retract_report(session=session, report_id=drafts[1].id, actor="test", at=T0)
    pipeline.run(store, clock=lambda received: received + dt.timedelta(minutes=30))


@pytest.fixture
def tables(any_store: Store) -> dict[str, NationalTable]:
    _year(any_store)
    with any_store.session() as session:
        return {table.name: table for table in national_tables(session, 2023)}


def _rows(table: NationalTable) -> dict[str, int | tuple[int, ...]]:
    return {label: values[0] if len(values) == 1 else values for label, values in table.rows}


def test_reports_by_source_location_and_type(tables: dict[str, NationalTable]) -> None:
    assert _rows(tables["reports_by_source"]) == {"platform": 8, "public": 1, "total": 9}
    assert _rows(tables["reports_by_location"]) == {"united_states": 7, "international": 1, "unknown": 1, "total": 9}
    incident = _rows(tables["reports_by_incident_type"])
    assert incident[IncidentType.CHILD_PORNOGRAPHY.value] == 8
    assert incident[IncidentType.ONLINE_ENTICEMENT.value] == 1
    assert len(incident) == 9  # all eight types, zeros included, and the total
    assert incident["total"] == 9


def test_reports_by_state_and_country(tables: dict[str, NationalTable]) -> None:
    by_state = _rows(tables["reports_by_state"])
    assert {code: n for code, n in by_state.items() if n} == {
        "NC": 2,
        "CA": 1,
        "NY": 2,
        "TX": 1,
        "unspecified": 1,
        "total": 7,
    }
    assert "WY" in by_state
    assert "PR" in by_state
    assert "FED" not in by_state
    assert list(_rows(tables["reports_by_country"]).items()) == [("US", 7), ("MX", 1), ("unknown", 1), ("total", 9)]


def test_files_and_content(tables: dict[str, NationalTable]) -> None:
    assert _rows(tables["files_by_kind"]) == {"image": 5, "video": 1, "other": 0, "total": 6}
    assert _rows(tables["unique_files"]) == {"image": 3, "video": 1, "other": 0, "total": 4}
    content = _rows(tables["reports_by_content"])
    assert content == {"new_content": 4, "previously_seen_only": 1, "no_matched_file": 4, "total": 9}


def test_platforms_classification_escalation_recipients_and_bundles(tables: dict[str, NationalTable]) -> None:
    assert _rows(tables["reports_by_platform"]) == {"Example Social": 7, "Other Photos": 1, "total": 8}
    classes = _rows(tables["reports_by_classification"])
    assert classes == {"referral": 8, "informational": 1, "not_yet_classified": 0, "total": 9}
    assert _rows(tables["escalated_reports"]) == {"escalation_requested": 1, "urgent_priority": 2}
    assert _rows(tables["reports_by_recipient"]) == {
        "icac_task_forces": (5, 0, 5),
        "state_and_local_law_enforcement": (0, 0, 0),
        "federal_law_enforcement": (1, 1, 2),
        "international_law_enforcement": (1, 0, 1),
    }
    bundled = _rows(tables["bundles"])
    assert bundled == {"bundles_opened": 1, "reports_in_bundles": 2, "reports_handled_through_a_lead": 1}


def test_another_year_is_empty(any_store: Store) -> None:
    _year(any_store)
    with any_store.session() as session:
        tables = national_tables(session, 2024, ["reports_by_source", "files_by_kind"])
    assert [_rows(t)["total"] for t in tables] == [0, 0]


runner = CliRunner()


@pytest.fixture
def url(store: Store) -> str:
    _year(store)
    return str(store.engine.url)


def _invoke(*args: str) -> str:
    import typer

    app = typer.Typer()
    app.command()(tables_command)
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


def test_csv_has_one_line_per_figure(url: str) -> None:
    rows = list(csv.DictReader(io.StringIO(_invoke("--year", "2023", "--format", "csv", "--url", url))))
    assert set(rows[0]) == {"table", "row", "column", "value"}
    figures = {(r["table"], r["row"], r["column"]): int(r["value"]) for r in rows}
    assert figures["reports_by_source", "total", "reports"] == 9
    assert figures["reports_by_recipient", "federal_law_enforcement", "informational"] == 1
    assert {r["table"] for r in rows} == set(all_tables())


def test_json_and_markdown(url: str, tmp_path: Path) -> None:
    document = json.loads(_invoke("--year", "2023", "--format", "json", "--url", url, "--table", "files_by_kind"))
    assert document["year"] == 2023
    assert document["tables"]["files_by_kind"]["rows"][-1] == {"row": "total", "files": 6}
    out = tmp_path / "tables.md"
    _invoke("-y", "2023", "--url", url, "--out", str(out))
    text = out.read_text()
    assert text.startswith("# National tables, 2023")
    assert "| Child Pornography (possession, manufacture, and distribution) | 8 |" in text
    assert text.count("## ") == len(all_tables())


def test_an_unknown_table_is_refused(url: str) -> None:
    import typer

    app = typer.Typer()
    app.command()(tables_command)
    result = runner.invoke(app, ["--year", "2023", "--url", url, "--table", "nope"])
    assert result.exit_code == 2
    assert "no such table" in result.output


def test_the_help_names_every_table_in_order() -> None:
    assert tuple(all_tables()) == TABLE_NAMES


def test_every_table_is_defined_in_the_metrics_page() -> None:
    text = DOCS.read_text(encoding="utf-8")
    assert "\n## National tables\n" in text
    section = text.split("\n## National tables\n", 1)[1].split("\n## ", 1)[0]
    defined = set(re.findall(r"^\| `([a-z_]+)` \|", section, flags=re.MULTILINE))
    assert defined == set(TABLES)


def test_unique_files_after_grouping_visually_similar_images(store: Store) -> None:
    from clearinghouse.access.service import get_or_create_platform
    from clearinghouse.hashing.image import hash_content
    from clearinghouse.tipline.filing import FileDigest
    from clearinghouse.tipline.models import FileKind
    from tests.hashing.pictures import encode, picture, recompressed

    first, second = picture(11), picture(12)
    contents = [encode(first), encode(recompressed(first)), encode(second), encode(second)]
    digests = [hash_content(content) for content in contents]
    files = [
        FileDigest(kind=FileKind.IMAGE, md5=d.md5, sha1=d.sha1, pdq=d.pdq, pdq_quality=d.pdq_quality) for d in digests
    ]
    files.append(FileDigest(kind=FileKind.VIDEO, sha1="ab" * 20))  # a file its platform sent without an MD5
    intake = ReportIntake.model_validate(
        {
            "incident_type": IncidentType.CHILD_PORNOGRAPHY.value,
            "incident_at": "2023-03-01T00:00:00+00:00",
            "reporter": {"reporting_person": {"first_name": "Trust"}},
        }
    )
    received = dt.datetime(2023, 3, 2, tzinfo=dt.UTC)
    with store.unit_of_work() as session:
        platform = get_or_create_platform(session=session, name="Example Platform")
        reports = [
            FiledReport(intake=intake, received_at=received, platform_ref=f"r{i}", files=files[2 * i : 2 * i + 3])
            for i in range(2)
        ]
        file_reports(session=session, platform_id=platform.id, reports=reports, actor="test")
    with store.unit_of_work() as session:
        unique, grouped = national_tables(session, 2023, ["unique_files", "unique_files_grouped"])
    assert dict(unique.rows)["total"] == (3,)  # the second picture was sent twice as the same bytes
    # Before grouping, the file without an MD5 is one file of its own: a row named "by MD5" would say otherwise.
    assert grouped.rows == [("before_grouping", (4,)), ("after_grouping", (3,))]  # the re-compressed copy joins


def test_a_table_named_twice_is_printed_once_in_every_format(url: str) -> None:
    twice = ["--year", "2023", "--url", url, "--table", "bundles", "--table", "files_by_kind", "--table", "bundles"]
    rows = list(csv.DictReader(io.StringIO(_invoke(*twice, "--format", "csv"))))
    assert [r["table"] for r in rows].count("bundles") == 3  # its three rows, once
    assert list(json.loads(_invoke(*twice, "--format", "json"))["tables"]) == ["bundles", "files_by_kind"]
    assert _invoke(*twice, "--format", "md").count("## ") == 2


def test_a_platform_named_total_is_not_taken_for_the_total(store: Store) -> None:
    send(store, ready(store, "Total"), [line("t1", doc(state="NC")), line("t2", doc(state="NY"))])
    with store.session() as session:
        (table,) = national_tables(session, 2023, ["reports_by_platform"])
    assert table.rows == [("Total (platform)", (2,)), ("total", (2,))]


def test_markdown_says_when_a_year_has_no_records(url: str) -> None:
    from clearinghouse.cli import app

    counted = _invoke("--year", "2023", "--url", url)
    assert "No records" not in counted
    empty = _invoke("--year", "1950", "--url", url)
    assert empty.splitlines()[4] == "No records of 1950 were counted: every figure below is zero."
    result = runner.invoke(app, ["vid", "tables", "--year", "1950", "--url", url])
    assert result.exit_code == 0, result.output
    assert "No records of 1950 were counted" in result.stdout


def test_the_year_of_a_report_is_the_utc_one(any_store: Store) -> None:
    new_york, athens = dt.timezone(dt.timedelta(hours=-5)), dt.timezone(dt.timedelta(hours=2))
    send(
        any_store,
        ready(any_store),
        [
            line("last-second", doc(state="NC"), at=dt.datetime(2023, 12, 31, 23, 59, 59, tzinfo=dt.UTC)),
            line("new-york-eve", doc(state="NY"), at=dt.datetime(2023, 12, 31, 23, 59, 59, tzinfo=new_york)),
            line("athens-new-year", doc(state="PR"), at=dt.datetime(2024, 1, 1, 0, 30, tzinfo=athens)),
        ],
    )
    pipeline.run(any_store, clock=lambda received: received + dt.timedelta(minutes=30))
    with any_store.session() as session:
        years = {year: _rows(national_tables(session, year, ["reports_by_state"])[0]) for year in (2023, 2024)}
    assert {code: n for code, n in years[2023].items() if n} == {"NC": 1, "PR": 1, "total": 2}
    assert {code: n for code, n in years[2024].items() if n} == {"NY": 1, "total": 1}
