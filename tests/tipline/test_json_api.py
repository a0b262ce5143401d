"""The JSON API for single reports: the same intake model as the XML interface, filed finished in one call."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from clearinghouse.access.audit import history
from clearinghouse.db.engine import Store
from clearinghouse.tipline import filing, json_api
from clearinghouse.tipline.models import Report, ReportFile, ReportSource, ReportStatus
from clearinghouse.tipline.wire import parse_report
from clearinghouse.tipline.wire_schemas import MAX_ENTRIES, MAX_REPORT_ENTRIES
from tests.tipline.bulk_helpers import crowd, doc
from tests.tipline.factories import make_faker, minimal_report, realistic_report
from tests.tipline.ispws_client import IspwsClient, SchemaBuilder
from tests.web.live import LiveServer


@pytest.fixture
def api(live: LiveServer, credentials: tuple[str, str]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{live.url}/api/v1/", auth=credentials, timeout=30) as client:
        yield client


@pytest.fixture
def intake_json(schema_builder: SchemaBuilder) -> dict[str, Any]:
    """A realistic report in the JSON shape: the XML factory's report parsed by the wire layer."""
    document = schema_builder.document("report", realistic_report(make_faker()))
    data: dict[str, Any] = parse_report(document).model_dump(mode="json", exclude_none=True)
    return data


def submission(intake_json: dict[str, Any], **extra: Any) -> dict[str, Any]:
    content = b"synthetic file bytes"
    digest = {
        "kind": "image",
        "md5": hashlib.md5(content).hexdigest(),
        "sha256": hashlib.sha256(content).hexdigest().upper(),
        "size": len(content),
        "filename": "photo.jpg",
    }
    return {"report": intake_json, "files": [digest], **extra}


def test_a_report_is_filed_finished_and_queued(api: httpx.Client, intake_json: dict[str, Any], store: Store) -> None:
    response = api.post("reports", json=submission(intake_json))
    assert response.status_code == 201
    assert response.headers["Request-ID"]
    answer = response.json()
    assert (answer["status"], answer["created"]) == ("finished", True)
    report_id = answer["report_id"]
    assert answer["file_ids"] == [f"{report_id}-1"]
    with store.session() as session:
        report = session.get(Report, report_id)
        assert report is not None
        assert (report.status, report.source, report.processed_at) == (
            ReportStatus.FINISHED,
            ReportSource.PLATFORM,
            None,
        )
        assert report.location_evidence
        file = session.scalars(sa.select(ReportFile).where(ReportFile.report_id == report_id)).one()
        assert file.sha256 == hashlib.sha256(b"synthetic file bytes").hexdigest()
        assert [e.actor for e in history(session=session, subject_type="report", subject_id=report_id)] == [
            "platform:example-chat"
        ]


def test_the_platform_report_id_makes_it_idempotent(
    api: httpx.Client, intake_json: dict[str, Any], store: Store
) -> None:
    body = submission(intake_json, platform_report_id="chat-2024-0001")
    first = api.post("reports", json=body)
    again = api.post("reports", json=body)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["report_id"] == again.json()["report_id"]
    assert again.json()["created"] is False
    other = api.post("reports", json=submission(intake_json, platform_report_id="chat-2024-0002"))
    assert other.status_code == 201
    with store.session() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Report)) == 2


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda body: body["report"].update(incident_type="Something Else"), "report.incident_type"),
        (lambda body: body["report"].pop("reporter"), "report.reporter"),
        (lambda body: body["report"].update(incident_at="2024-05-17T22:15:03"), "report.incident_at"),
        (lambda body: body["files"][0].update(md5="not-hex"), "files.0.md5"),
        (lambda body: body["files"][0].update(md5=None, sha256=None), "files.0"),
        (lambda body: body.update(unexpected=True), "unexpected"),
        (lambda body: body["report"].update(victims=[{}] * (MAX_ENTRIES + 1)), "report.victims"),
        (
            lambda body: body["report"]["victims"][0].update(ip_capture_events=[{"ip_address": ""}] * 1001),
            "report.victims.0.ip_capture_events",
        ),
        (lambda body: body["report"].update(incident_at="2999-01-01T00:00:00Z"), "report.incident_at"),
        (lambda body: body["report"].update(incident_at=1_700_000_000), "report.incident_at"),  # seconds, UTC?
        (lambda body: body["report"].update(incident_at=1_700_000_000_000), "report.incident_at"),  # or ms?
    ],
)
def test_invalid_reports_are_refused_naming_the_field(
    api: httpx.Client, intake_json: dict[str, Any], change: Any, field: str, store: Store
) -> None:
    body = submission(intake_json)
    change(body)
    response = api.post("reports", json=body)
    assert response.status_code == 422
    assert response.headers["Content-Type"].startswith("application/problem+json")
    problem = response.json()
    assert field in [error["field"] for error in problem["errors"]]
    assert all(set(error) == {"field", "message"} for error in problem["errors"])  # values are not echoed
    with store.session() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Report)) == 0


def test_broken_json_and_oversized_bodies(api: httpx.Client, live: LiveServer) -> None:
    assert api.post("reports", content=b"{not json", headers={"Content-Type": "application/json"}).status_code == 422
    live.context.limits.xml_max_bytes = 1000
    response = api.post("reports", content=b"{" + b" " * 2000 + b"}")
    assert response.status_code == 413
    assert "limit is 1000 bytes" in response.json()["detail"]


def test_authentication_and_ownership(
    live: LiveServer, api: httpx.Client, other_credentials: tuple[str, str], intake_json: dict[str, Any]
) -> None:
    anonymous = httpx.post(f"{live.url}/api/v1/reports", json=submission(intake_json))
    assert anonymous.status_code == 401
    assert anonymous.headers["WWW-Authenticate"].startswith("Basic")
    report_id = api.post("reports", json=submission(intake_json)).json()["report_id"]
    mine = api.get(f"reports/{report_id}")
    assert (mine.status_code, mine.json()["status"]) == (200, "finished")
    theirs = httpx.get(f"{live.url}/api/v1/reports/{report_id}", auth=other_credentials)
    assert (theirs.status_code, theirs.json()["code"]) == (403, 3000)
    missing = api.get("reports/987654")
    assert (missing.status_code, missing.json()["code"]) == (404, 5001)


def test_a_report_id_beyond_the_store_is_refused_not_a_server_error(api: httpx.Client) -> None:
    for report_id in ("1746753020600468584494268416", "0", "-3"):
        response = api.get(f"reports/{report_id}")
        assert response.status_code == 422, (report_id, response.text)


def report_count(store: Store) -> int:
    with store.session() as session:
        return session.scalar(sa.select(sa.func.count()).select_from(Report)) or 0


def test_a_million_empty_victims_are_refused_at_once(
    api: httpx.Client, intake_json: dict[str, Any], store: Store
) -> None:
    body = json.dumps(submission({**intake_json, "victims": [{}] * 1_000_000})).encode()
    assert len(body) < 4 * 1024 * 1024  # well under the body limit
    response = api.post("reports", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {
            "field": "report.victims",
            "message": f"List should have at most {MAX_ENTRIES} items after validation, not 1000000",
        }
    ]
    assert report_count(store) == 0


def _ip_events_of_accounts(entries: int) -> list[dict[str, Any]]:
    """One reported person of ten accounts whose IP events make `entries` entries with them."""
    events = entries - 11  # the person and its ten accounts are entries too
    counts = [events // 10 + (1 if i < events % 10 else 0) for i in range(10)]
    event = {"ip_address": "192.0.2.1"}
    return [{"associated_accounts": [{"type": "Other", "ip_capture_events": [event] * n} for n in counts]}]


@pytest.mark.parametrize("crowded", [crowd, _ip_events_of_accounts], ids=["persons and accounts", "ip events"])
def test_more_entries_in_all_than_the_bound_are_refused_and_as_many_are_filed(
    api: httpx.Client, store: Store, crowded: Any
) -> None:
    response = api.post("reports", json={"report": doc(reported_persons=crowded(MAX_REPORT_ENTRIES + 1))})
    assert response.status_code == 422
    message = (
        f"holds more than {MAX_REPORT_ENTRIES} entries in all its lists together (parties, accounts, IP events, "
        f"phones, ...); at most {MAX_REPORT_ENTRIES} are accepted"
    )
    assert response.json()["errors"] == [{"field": "report", "message": message}]
    assert report_count(store) == 0
    response = api.post("reports", json={"report": doc(reported_persons=crowded(MAX_REPORT_ENTRIES))})
    assert response.status_code == 201, response.text
    with store.session() as session:
        report = session.get(Report, response.json()["report_id"])
        assert report is not None
        assert report.body is not None
        assert report.body["reported_persons"] == crowded(MAX_REPORT_ENTRIES)


def test_the_rows_are_made_before_the_write_turn(
    api: httpx.Client, intake_json: dict[str, Any], live: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    turn = live.context.store.turn
    held: list[tuple[str, bool]] = []

    def prepare(report: Any) -> Any:
        held.append(("prepare", turn.thread_lock.locked()))
        return filing.prepare(report)

    def file_prepared(**arguments: Any) -> Any:
        held.append(("file", turn.thread_lock.locked()))
        return filing.file_prepared(**arguments)

    monkeypatch.setattr(json_api, "prepare", prepare)
    monkeypatch.setattr(json_api, "file_prepared", file_prepared)
    assert api.post("reports", json=submission(intake_json)).status_code == 201
    assert held == [("prepare", False), ("file", True)]


def test_an_incident_after_the_report_is_refused_naming_the_field(
    api: httpx.Client, intake_json: dict[str, Any], live: LiveServer, store: Store
) -> None:
    now = dt.datetime(2024, 6, 3, 9, 0, tzinfo=dt.UTC)
    live.context.clock = lambda: now
    late = {**intake_json, "incident_at": (now + dt.timedelta(minutes=6)).isoformat()}
    response = api.post("reports", json=submission(late))
    assert response.status_code == 422
    message = "is after the report was received (2024-06-03T09:00:00+00:00): give the time the incident happened"
    assert response.json()["errors"] == [{"field": "report.incident_at", "message": message}]
    assert report_count(store) == 0
    # A platform clock a few minutes ahead of ours is no reason to refuse a report.
    close = {**intake_json, "incident_at": (now + dt.timedelta(minutes=4)).isoformat()}
    assert api.post("reports", json=submission(close)).status_code == 201


def test_an_open_report_past_its_lifetime_shows_as_expired(
    api: httpx.Client, client: IspwsClient, live: LiveServer
) -> None:
    opened_at = dt.datetime(2024, 6, 3, 9, 0, tzinfo=dt.UTC)
    live.context.clock = lambda: opened_at
    report_id = client.submit(minimal_report(make_faker())).report_id
    assert report_id is not None

    def status_after(delay: dt.timedelta) -> str:
        live.context.clock = lambda: opened_at + delay
        answer: str = api.get(f"reports/{report_id}").json()["status"]
        return answer

    assert status_after(dt.timedelta(hours=24)) == "open"
    # Past its lifetime, the interface answers 5001 for it, and the JSON API says why, before any sweep ran.
    assert status_after(dt.timedelta(hours=24, seconds=1)) == "expired"
    assert client.finish(report_id).code == 5001
    live.context.clock = lambda: opened_at + dt.timedelta(hours=23, minutes=30)
    assert client.upload(report_id, b"a late file", "f.bin").code == 0
    assert status_after(dt.timedelta(hours=24, minutes=29)) == "open"
    assert status_after(dt.timedelta(hours=24, minutes=31)) == "expired"
