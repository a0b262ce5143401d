"""The platform interface over real HTTP, driven by the schema-driven client a platform would write.

Every answer the client reads is checked against the XSD by the client itself; these tests check the codes.
"""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from clearinghouse.access.audit import history
from clearinghouse.db.engine import Store
from clearinghouse.tipline import filing, xmlsafe
from clearinghouse.tipline.fastsql import EncodedJSON
from clearinghouse.tipline.models import Report, ReportFile, ReportStatus
from clearinghouse.tipline.wire_schemas import MAX_ENTRIES, MAX_REPORT_ENTRIES
from clearinghouse.tipline.xmlsafe import ResponseCode, schema_bytes
from tests.tipline.factories import (
    crowd,
    encoded,
    file_details,
    ip_event,
    make_faker,
    minimal_report,
    person,
    realistic_report,
    synthetic_image,
)
from tests.tipline.ispws_client import Answer, IspwsClient
from tests.web.live import LiveServer

LAUGHS = "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' if i else '<!ENTITY l0 "lol">' for i in range(10))
BILLION_LAUGHS = f'<?xml version="1.0"?><!DOCTYPE report [{LAUGHS}]><report>&l9;</report>'.encode()
XXE = (
    b'<?xml version="1.0"?><!DOCTYPE report [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    b"<report><incidentSummary><incidentType>Child Sex Tourism</incidentType><platform>&x;</platform>"
    b"<incidentDateTime>2024-01-01T00:00:00Z</incidentDateTime></incidentSummary>"
    b"<reporter><reportingPerson/></reporter></report>"
)


def opened(client: IspwsClient, report: dict[str, Any] | None = None) -> int:
    answer = client.submit(report or minimal_report(make_faker()))
    assert answer.code == 0, answer.description
    assert answer.report_id is not None
    return answer.report_id


def uploaded(client: IspwsClient, report_id: int, content: bytes = b"plain test bytes") -> str:
    answer = client.upload(report_id, content, "file.bin")
    assert answer.code == 0, answer.description
    assert answer.file_id is not None
    return answer.file_id


def report_row(store: Store, report_id: int) -> Report:
    with store.session() as session:
        report = session.get(Report, report_id)
        assert report is not None
        return report


def test_a_whole_report_over_http(client: IspwsClient, store: Store) -> None:
    fake = make_faker()
    status = client.status()
    assert (status.http_status, status.root, status.code) == (200, "reportResponse", 0)
    report_id = opened(client, realistic_report(fake))
    image = encoded(synthetic_image(), "PNG")
    upload = client.upload(report_id, image, "pattern.png")
    assert upload.code == 0
    assert upload.file_id is not None
    import hashlib

    assert upload.hash == hashlib.md5(image).hexdigest()
    described = client.fileinfo(file_details(fake, report_id, upload.file_id))
    assert (described.code, described.report_id, described.file_id) == (0, report_id, upload.file_id)
    done = client.finish(report_id)
    assert (done.root, done.code, done.report_id, done.file_ids) == (
        "reportDoneResponse",
        0,
        report_id,
        [upload.file_id],
    )

    report = report_row(store, report_id)
    assert report.status is ReportStatus.FINISHED
    assert report.processed_at is None  # queued for the pipeline
    assert report.received_at is not None
    assert report.escalation_reason == "Reported user arranged to meet the child tonight."
    assert report.location_evidence
    parties = {clue.get("party", "reported_user") for clue in report.location_evidence}
    assert "file" in parties  # the upload IP of the file details counts too
    with store.session() as session:
        file = session.scalars(sa.select(ReportFile).where(ReportFile.report_id == report_id)).one()
        assert (file.kind.value, file.md5, file.size) == ("image", upload.hash, len(image))
        assert file.pdq is not None
        assert file.details is not None
        assert file.details["industry_classification"] == "A1"
        events = history(session=session, subject_type="report", subject_id=report_id)
    actions = [event.action for event in events]
    assert actions == ["report.opened", "report.file_added", "report.file_described", "report.finished"]
    assert all(event.actor == "platform:example-chat" for event in events)
    times = [event.at for event in events]
    assert times == sorted(times)


def test_the_schema_is_served_byte_for_byte(client: IspwsClient) -> None:
    assert client.xsd() == schema_bytes()


def test_every_answer_carries_its_own_request_id(client: IspwsClient, http: httpx.Client) -> None:
    answers = [client.status(), client.status(), client.submit(b"<report/>"), client.finish(999)]
    ids = [answer.request_id for answer in answers]
    assert all(ids)
    assert len(set(ids)) == len(ids)
    assert http.get("xsd").headers["Request-ID"]


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "Basic " + base64.b64encode(b"example-chat:wrong-secret").decode(),
        "Basic " + base64.b64encode(b"nobody:whatever").decode(),
        "Basic !!!not-base64!!!",
        "Basic " + base64.b64encode(b"no-colon").decode(),
        "Bearer abc",
    ],
)
@pytest.mark.parametrize(
    ("method", "path"), [("GET", "status"), ("GET", "xsd"), ("POST", "submit"), ("POST", "finish")]
)
def test_failed_authentication_is_an_empty_401(
    live: LiveServer, credentials: tuple[str, str], authorization: str | None, method: str, path: str
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    response = httpx.request(method, live.ispws + path, headers=headers, content=b"<report/>", timeout=30)
    assert response.status_code == 401
    assert response.content == b""
    assert response.headers["Request-ID"]
    assert response.headers["WWW-Authenticate"].startswith("Basic")


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (XXE, ResponseCode.INVALID_REQUEST),
        (BILLION_LAUGHS, ResponseCode.INVALID_REQUEST),
        (b'<?xml version="1.0"?><!DOCTYPE report SYSTEM "http://example.invalid/x.dtd"><report/>', 4000),
        (b"<fileDetails><reportId>1</reportId><fileId>1-1</fileId></fileDetails>", ResponseCode.INVALID_REQUEST),
        (b'<report xmlns="urn:other"/>', ResponseCode.INVALID_REQUEST),
        (b"<report><incidentSummary></report>", ResponseCode.MALFORMED_XML),
        (b"", ResponseCode.MALFORMED_XML),
        (b"\xff\xfe\x00garbage", ResponseCode.MALFORMED_XML),
        (b"<report><incidentSummary/></report>", ResponseCode.SCHEMA_VALIDATION_FAILED),
    ],
)
def test_hostile_and_broken_reports_get_their_code_and_store_nothing(
    client: IspwsClient, store: Store, body: bytes, code: int
) -> None:
    answer = client.submit(body)
    assert (answer.http_status, answer.code) == (200, code)
    with store.session() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Report)) == 0


def test_a_schema_refusal_names_the_element(client: IspwsClient) -> None:
    report = minimal_report(make_faker())
    report["incidentSummary"]["incidentType"] = "Something Else"
    body = client.builder.document("report", report, validate=False)
    answer = client.submit(body)
    assert answer.code == ResponseCode.SCHEMA_VALIDATION_FAILED
    assert answer.description is not None
    assert "/report/incidentSummary/incidentType" in answer.description


def test_file_details_are_schema_checked(client: IspwsClient) -> None:
    report_id = opened(client)
    answer = client.fileinfo(b"<fileDetails><reportId>x</reportId></fileDetails>")
    assert answer.code == ResponseCode.SCHEMA_VALIDATION_FAILED
    assert client.fileinfo(b"<fileDetails><reportId>1</fileDetails>").code == ResponseCode.MALFORMED_XML
    assert client.fileinfo({"reportId": report_id, "fileId": "nope"}).code == ResponseCode.FILE_DOES_NOT_EXIST


def test_an_over_long_document_is_refused_unread(client: IspwsClient, live: LiveServer) -> None:
    live.context.limits.xml_max_bytes = 2048
    report = minimal_report(make_faker())
    report["additionalInfo"] = "x" * 4096
    answer = client.submit(report)
    assert answer.code == ResponseCode.INVALID_REQUEST
    assert answer.description is not None
    assert "limit is 2048 bytes" in answer.description


def test_unknown_reports_and_files(client: IspwsClient) -> None:
    assert client.finish(424242).code == ResponseCode.REPORT_DOES_NOT_EXIST
    assert client.retract(424242).code == ResponseCode.REPORT_DOES_NOT_EXIST
    assert client.upload(424242, b"bytes", "f.bin").code == ResponseCode.REPORT_DOES_NOT_EXIST
    assert client.fileinfo({"reportId": 424242, "fileId": "1-1"}).code == ResponseCode.REPORT_DOES_NOT_EXIST
    report_id = opened(client)
    other = opened(client)
    file_id = uploaded(client, other)
    # A file of another report is not a file of this one.
    assert client.fileinfo({"reportId": report_id, "fileId": file_id}).code == ResponseCode.FILE_DOES_NOT_EXIST


def test_a_retracted_report_takes_nothing_more(client: IspwsClient, store: Store) -> None:
    report_id = opened(client)
    file_id = uploaded(client, report_id)
    retracted = client.retract(report_id)
    assert (retracted.code, retracted.report_id) == (0, report_id)
    assert client.finish(report_id).code == ResponseCode.REPORT_ALREADY_RETRACTED
    assert client.retract(report_id).code == ResponseCode.REPORT_ALREADY_RETRACTED
    assert client.upload(report_id, b"more", "f.bin").code == ResponseCode.REPORT_ALREADY_RETRACTED
    assert client.fileinfo({"reportId": report_id, "fileId": file_id}).code == ResponseCode.REPORT_ALREADY_RETRACTED
    report = report_row(store, report_id)
    assert report.status is ReportStatus.RETRACTED
    assert report.retracted_at is not None


def test_a_finished_report_is_final(client: IspwsClient) -> None:
    report_id = opened(client)
    file_id = uploaded(client, report_id)
    assert client.finish(report_id).code == 0
    assert client.finish(report_id).code == ResponseCode.REPORT_ALREADY_FINISHED
    assert client.retract(report_id).code == ResponseCode.REPORT_ALREADY_FINISHED
    assert client.upload(report_id, b"late", "f.bin").code == ResponseCode.REPORT_ALREADY_FINISHED
    assert client.fileinfo({"reportId": report_id, "fileId": file_id}).code == ResponseCode.REPORT_ALREADY_FINISHED


def test_a_platform_touches_only_its_own_reports(client: IspwsClient, other_client: IspwsClient, store: Store) -> None:
    report_id = opened(client)
    file_id = uploaded(client, report_id)
    refused: list[Answer] = [
        other_client.upload(report_id, b"intruder", "f.bin"),
        other_client.fileinfo({"reportId": report_id, "fileId": file_id}),
        other_client.finish(report_id),
        other_client.retract(report_id),
    ]
    assert [answer.code for answer in refused] == [ResponseCode.NOT_AUTHORIZED_TO_UPDATE] * 4
    assert report_row(store, report_id).status is ReportStatus.OPEN
    assert report_row(store, report_id).file_count == 1
    assert client.finish(report_id).code == 0


@pytest.mark.parametrize(
    ("data", "files", "code"),
    [
        ({}, {"file": ("f.bin", b"x", "application/octet-stream")}, ResponseCode.INVALID_REQUEST),
        ({"id": "abc"}, {"file": ("f.bin", b"x", "application/octet-stream")}, ResponseCode.INVALID_REQUEST),
        ({"id": "{id}"}, None, ResponseCode.INVALID_REQUEST),
        ({"id": "{id}"}, {"file": ("f.bin", b"", "application/octet-stream")}, ResponseCode.MALFORMED_FILE),
        ({"id": "{id}"}, {"document": ("f.bin", b"x", "application/octet-stream")}, ResponseCode.INVALID_REQUEST),
    ],
)
def test_malformed_uploads(
    client: IspwsClient, http: httpx.Client, data: dict[str, str], files: dict[str, Any] | None, code: int
) -> None:
    report_id = opened(client)
    fields = {key: value.replace("{id}", str(report_id)) for key, value in data.items()}
    if files is None:
        response = http.post("upload", data=fields, files={"id": (None, str(report_id))})
    else:
        response = http.post("upload", data=fields, files=files)
    assert client._answer(response).code == code


def test_two_files_in_one_upload_are_refused(client: IspwsClient, http: httpx.Client) -> None:
    report_id = opened(client)
    files = [
        ("file", ("a.bin", b"a", "application/octet-stream")),
        ("file", ("b.bin", b"b", "application/octet-stream")),
    ]
    answer = client._answer(http.post("upload", data={"id": str(report_id)}, files=files))
    assert answer.code == ResponseCode.INVALID_REQUEST


def test_finish_and_retract_need_a_report_id(client: IspwsClient, http: httpx.Client) -> None:
    assert client._answer(http.post("finish")).code == ResponseCode.INVALID_REQUEST
    assert client._answer(http.post("retract", data={"id": "12; DROP TABLE"})).code == ResponseCode.INVALID_REQUEST
    report_id = opened(client)
    # The id may also arrive as a multipart field.
    answer = client._answer(http.post("finish", files={"id": (None, str(report_id))}))
    assert (answer.root, answer.code) == ("reportDoneResponse", 0)


def test_unknown_paths_and_methods_answer_in_xml(client: IspwsClient, http: httpx.Client) -> None:
    missing = client._answer(http.get("nowhere"))
    assert (missing.http_status, missing.code) == (404, ResponseCode.RESOURCE_NOT_FOUND)
    wrong_method = client._answer(http.get("submit"))
    assert (wrong_method.http_status, wrong_method.code) == (405, ResponseCode.INVALID_REQUEST)


@pytest.mark.parametrize(
    ("content", "kind"),
    [
        (b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 64, "video"),
        (b"\x1a\x45\xdf\xa3" + b"\x00" * 64, "video"),
        (b"%PDF-1.7 synthetic", "other"),
        (b"\x89PNG\r\n\x1a\n but not really a picture", "other"),
    ],
)
def test_the_kind_of_an_upload_comes_from_its_content(
    client: IspwsClient, store: Store, content: bytes, kind: str
) -> None:
    report_id = opened(client)
    uploaded(client, report_id, content)
    with store.session() as session:
        file = session.scalars(sa.select(ReportFile).where(ReportFile.report_id == report_id)).one()
    assert (file.kind.value, file.size, file.pdq) == (kind, len(content), None)


def report_count(store: Store) -> int:
    with store.session() as session:
        return session.scalar(sa.select(sa.func.count()).select_from(Report)) or 0


def _incident_time(report: dict[str, Any], value: str) -> None:
    report["incidentSummary"]["incidentDateTime"] = value


def _ip_time(report: dict[str, Any], value: str) -> None:
    report["victim"][0]["ipCaptureEvent"][0]["dateTime"] = value


def _location_time(report: dict[str, Any], value: str) -> None:
    report["personOrUserReported"][0]["estimatedLocation"]["@timestamp"] = value


@pytest.mark.parametrize(
    ("place", "path"),
    [
        (_incident_time, "/report/incidentSummary/incidentDateTime"),
        (_ip_time, "/report/victim/ipCaptureEvent/dateTime"),
        (_location_time, "/report/personOrUserReported/estimatedLocation/@timestamp"),
    ],
)
@pytest.mark.parametrize("value", ["9999-12-31T24:00:00Z", "9999-12-31T23:59:59-14:00", "1899-06-01T00:00:00Z"])
def test_a_time_out_of_range_is_refused_by_its_element_and_stores_nothing(
    client: IspwsClient, store: Store, place: Any, path: str, value: str
) -> None:
    report = realistic_report(make_faker())
    place(report, value)
    answer = client.submit(report)
    assert (answer.http_status, answer.code) == (200, ResponseCode.INVALID_REQUEST)
    assert answer.description == f"{path}: date-time {value!r} is out of range (a time from 1900 to 9998 is expected)"
    assert report_count(store) == 0


def _victims(count: int) -> list[dict[str, Any]]:
    fake = make_faker()
    return [
        {
            "victimPerson": person(fake, age=12, with_contact=False),
            "ipCaptureEvent": [ip_event(fake, "Login")],
        }
        for _ in range(count)
    ]


def test_many_victims_are_read_without_working_out_element_paths(
    client: IspwsClient, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths: list[str] = []
    real = xmlsafe.element_path

    def element_path(element: Any) -> str:
        paths.append(real(element))
        return paths[-1]

    monkeypatch.setattr(xmlsafe, "element_path", element_path)
    report = minimal_report(make_faker())
    report["victim"] = _victims(MAX_ENTRIES)
    report_id = opened(client, report)
    assert paths == []
    body = report_row(store, report_id).body
    assert body is not None
    assert len(body["victims"]) == MAX_ENTRIES


def test_more_victims_than_the_bound_are_refused_and_store_nothing(client: IspwsClient, store: Store) -> None:
    report = minimal_report(make_faker())
    report["victim"] = _victims(MAX_ENTRIES + 1)
    answer = client.submit(report)
    assert answer.code == ResponseCode.INVALID_REQUEST
    assert answer.description == f"/report: {MAX_ENTRIES + 1} <victim> elements; at most {MAX_ENTRIES} are accepted"
    assert report_count(store) == 0


def _crowded(entries: int) -> dict[str, Any]:
    """A report whose only repeated elements are `entries` reported persons and linked accounts."""
    report = minimal_report(make_faker())
    report["reporter"] = {"reportingPerson": {"firstName": "Ada"}}
    report["personOrUserReported"] = crowd(entries)
    return report


def test_a_report_of_as_many_repeated_elements_as_the_bound_is_filed(client: IspwsClient, store: Store) -> None:
    body = report_row(store, opened(client, _crowded(MAX_REPORT_ENTRIES))).body
    assert body is not None
    persons = body["reported_persons"]
    assert len(persons) + sum(len(p["associated_accounts"]) for p in persons) == MAX_REPORT_ENTRIES
    assert persons[-1]["associated_accounts"][0] == {"type": "Other"}  # the shared default person is not stored


def test_more_repeated_elements_in_all_than_the_bound_are_refused_and_store_nothing(
    client: IspwsClient, store: Store
) -> None:
    answer = client.submit(_crowded(MAX_REPORT_ENTRIES + 1))
    assert answer.code == ResponseCode.INVALID_REQUEST
    assert answer.description == (
        f"/report: more than {MAX_REPORT_ENTRIES} repeated elements in all (victims, accounts, IP events, phones, "
        f"...); at most {MAX_REPORT_ENTRIES} are accepted"
    )
    assert report_count(store) == 0


def test_the_body_is_made_before_the_write_turn(
    client: IspwsClient, live: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    held: list[bool] = []
    real = filing.body_of
    turn = live.context.store.turn

    def body_of(report: Any) -> EncodedJSON:
        held.append(turn.thread_lock.locked())
        return real(report)

    monkeypatch.setattr(filing, "body_of", body_of)
    opened(client, realistic_report(make_faker()))
    assert held == [False]


def test_an_incident_after_the_report_is_refused(client: IspwsClient, live: LiveServer, store: Store) -> None:
    now = dt.datetime(2024, 6, 3, 9, 0, tzinfo=dt.UTC)
    live.context.clock = lambda: now
    report = minimal_report(make_faker())
    _incident_time(report, (now + dt.timedelta(minutes=6)).isoformat())
    answer = client.submit(report)
    assert answer.code == ResponseCode.INVALID_REQUEST
    assert answer.description == (
        "/report/incidentSummary/incidentDateTime: is after the report was received (2024-06-03T09:00:00+00:00):"
        " give the time the incident happened"
    )
    assert report_count(store) == 0
    # A platform clock a few minutes ahead of ours is no reason to refuse a report.
    _incident_time(report, (now + dt.timedelta(minutes=4)).isoformat())
    assert client.submit(report).code == 0
