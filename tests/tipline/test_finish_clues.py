"""Finishing a report stores the location clues that validating its stored documents again would give.

The clues are found before the write turn (the report's when it is submitted, each file's when it is
described) and only gathered when it is finished; these tests compare what is stored with the computation it
replaces, through the intake models, on both stores, and for reports stored before the clues were.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from clearinghouse.db.engine import Store
from clearinghouse.tipline import filing, intake
from clearinghouse.tipline.evidence import to_locate_evidence
from clearinghouse.tipline.filing import clues_of
from clearinghouse.tipline.models import Report, ReportFile, ReportStatus
from clearinghouse.tipline.wire_schemas import FileDetailsIntake, ReportIntake
from clearinghouse.tipline.xmlsafe import ResponseCode
from tests.tipline.factories import file_details, make_faker, minimal_report, realistic_report
from tests.tipline.ispws_client import IspwsClient, SchemaBuilder
from tests.tipline.test_clues import intakes
from tests.web.live import add_platform, serve_store


@pytest.fixture
def platform(any_store: Store, schema_builder: SchemaBuilder) -> Iterator[IspwsClient]:
    """A platform's client of the interface served over either store."""
    auth = add_platform(any_store, "Clue Chat")
    with serve_store(any_store) as live, httpx.Client(base_url=live.ispws, auth=auth, timeout=30) as http:
        yield IspwsClient(http, schema_builder)


def through_the_models(store: Store, report_id: int) -> list[dict[str, Any]]:
    """The clues as finishing computed them before they were stored as they came: from the stored body and
    details, each validated again."""
    with store.session() as session:
        report = session.get(Report, report_id)
        assert report is not None
        clues: list[dict[str, Any]] = clues_of(ReportIntake.model_validate(report.body or {}))
        files = session.scalars(sa.select(ReportFile).where(ReportFile.report_id == report_id).order_by(ReportFile.id))
        for file in files:
            if not file.details:
                continue
            details = FileDetailsIntake.model_validate(
                {**file.details, "report_id": report_id, "file_id": file.file_ref}
            )
            clues.extend(
                item.model_dump(mode="json", exclude_defaults=True)
                for item in to_locate_evidence(details.location_evidence())
            )
    return clues


def stored_clues(store: Store, report_id: int) -> list[dict[str, Any]] | None:
    with store.session() as session:
        report = session.get(Report, report_id)
        assert report is not None
        assert report.status is ReportStatus.FINISHED
        return report.location_evidence


def opened_with_files(client: IspwsClient, report: dict[str, Any]) -> int:
    """A report with three files: one described twice (the second description counts), one described without
    an upload IP, one never described."""
    fake = make_faker(3)
    answer = client.submit(report)
    assert answer.code == 0, answer.description
    report_id = answer.report_id
    assert report_id is not None
    files = []
    for index in range(3):
        upload = client.upload(report_id, f"file {index}".encode(), f"f{index}.bin")
        assert upload.code == 0, upload.description
        assert upload.file_id is not None
        files.append(upload.file_id)
    for details in (
        file_details(fake, report_id, files[0]),
        file_details(fake, report_id, files[0]),
        {key: value for key, value in file_details(fake, report_id, files[1]).items() if key != "ipCaptureEvent"},
    ):
        assert client.fileinfo(details).code == 0
    return report_id


@pytest.mark.parametrize("document", ["realistic", "minimal"])
def test_finish_stores_the_clues_the_models_give(platform: IspwsClient, any_store: Store, document: str) -> None:
    report = realistic_report(make_faker()) if document == "realistic" else minimal_report(make_faker())
    report_id = opened_with_files(platform, report)
    done = platform.finish(report_id)
    assert done.code == 0
    assert len(done.file_ids) == 3
    stored = stored_clues(any_store, report_id)
    assert stored == through_the_models(any_store, report_id)
    assert stored is not None
    parties = [clue.get("party") for clue in stored]
    assert parties.count("file") == 1  # the second description of the first file; the others name no IP
    assert (len(stored) > 1) == (document == "realistic")


def test_a_report_without_clues_or_files_finishes_with_none(platform: IspwsClient, any_store: Store) -> None:
    answer = platform.submit(minimal_report(make_faker()))
    assert answer.report_id is not None
    assert platform.finish(answer.report_id).code == 0
    assert stored_clues(any_store, answer.report_id) == []


@pytest.mark.parametrize("missing", [sa.null(), sa.JSON.NULL], ids=["SQL NULL", "JSON null"])
def test_a_report_stored_without_its_clues_still_finishes_right(
    platform: IspwsClient, any_store: Store, missing: Any
) -> None:
    """A report opened, and a file described, by the version that did not store their clues: finishing computes
    them from the stored documents, and stores what the report filed by this version stores."""
    report = realistic_report(make_faker())
    old, new = opened_with_files(platform, report), opened_with_files(platform, report)
    with any_store.unit_of_work() as session:
        session.execute(sa.update(Report).where(Report.id == old).values(location_evidence=missing))
        first_file = sa.select(sa.func.min(ReportFile.id)).where(ReportFile.report_id == old).scalar_subquery()
        session.execute(sa.update(ReportFile).where(ReportFile.id == first_file).values(location_evidence=sa.null()))
    with any_store.session() as session:
        assert session.scalar(sa.select(Report.location_evidence).where(Report.id == old)) is None
    assert platform.finish(old).code == 0
    assert platform.finish(new).code == 0
    assert stored_clues(any_store, old) == through_the_models(any_store, old)
    assert stored_clues(any_store, old) == stored_clues(any_store, new)


def test_refusals_of_finish_are_unchanged(platform: IspwsClient, any_store: Store) -> None:
    report_id = opened_with_files(platform, realistic_report(make_faker()))
    assert platform.finish(report_id).code == 0
    assert platform.finish(report_id).code == ResponseCode.REPORT_ALREADY_FINISHED
    assert platform.fileinfo(file_details(make_faker(), report_id, f"{report_id}-1")).code == (
        ResponseCode.REPORT_ALREADY_FINISHED
    )
    assert platform.finish(report_id + 1000).code == ResponseCode.REPORT_DOES_NOT_EXIST
    assert stored_clues(any_store, report_id) == through_the_models(any_store, report_id)


@settings(max_examples=300, deadline=None)
@given(intakes())
def test_the_clues_found_at_submit_equal_those_of_the_stored_body(document: dict[str, Any]) -> None:
    report = ReportIntake.model_validate(document)
    again = ReportIntake.model_validate_json(filing.body_of(report))
    assert json.loads(filing.report_clues(report)) == clues_of(again)


clue = st.fixed_dictionaries({"kind": st.sampled_from(["ip", "phone"]), "value": st.text(max_size=8)})


@settings(max_examples=200, deadline=None)
@given(st.lists(clue, max_size=3), st.lists(clue, max_size=3), st.sampled_from(["orjson", "json", "spaced"]))
def test_clues_are_appended_to_the_stored_text(own: list[Any], more: list[Any], style: str) -> None:
    """Whatever wrote the report's clues: this version (orjson), SQLAlchemy's JSON type or PostgreSQL's JSONB as
    text (json.dumps's spacing), or anything else that spaces JSON out."""
    text = {
        "orjson": orjson.dumps(own).decode(),
        "json": json.dumps(own),
        "spaced": "[ " + json.dumps(own)[1:-1] + " ]\n",
    }[style]
    assert json.loads(intake._appended(text, more)) == own + more
