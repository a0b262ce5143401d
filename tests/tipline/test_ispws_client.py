"""The schema-driven test client: documents follow the XSD, and a whole session runs against a wire-level fake.

The fake server below is built only from the wire layer (parsing, hashing, response builders) and keeps its
state in a dict; the real HTTP interface will be driven by the same client later.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from lxml import etree

from clearinghouse.tipline.content import hash_upload
from clearinghouse.tipline.wire import (
    error_response,
    parse_file_details,
    parse_report,
    report_done_response,
    report_response,
)
from clearinghouse.tipline.xmlsafe import ResponseCode, WireError, schema_bytes
from tests.tipline.factories import (
    encoded,
    file_details,
    make_faker,
    minimal_report,
    realistic_report,
    synthetic_image,
)
from tests.tipline.ispws_client import IspwsClient, SchemaBuilder, SchemaUsageError

CREDENTIALS = ("example-platform", "correct horse battery staple")


@pytest.fixture(scope="module")
def builder() -> SchemaBuilder:
    return SchemaBuilder()


def test_children_follow_schema_order_whatever_the_dict_order(builder: SchemaBuilder) -> None:
    data = minimal_report(make_faker())
    reordered = {"reporter": data["reporter"], "incidentSummary": dict(reversed(data["incidentSummary"].items()))}
    root = etree.fromstring(builder.document("report", reordered))
    assert [child.tag for child in root] == ["incidentSummary", "reporter"]
    assert [child.tag for child in root[0]] == ["incidentType", "incidentDateTime"]


def test_names_outside_the_schema_are_refused(builder: SchemaBuilder) -> None:
    data = minimal_report(make_faker())
    with pytest.raises(SchemaUsageError, match="no child <victimName>"):
        builder.document("report", {**data, "victimName": "x"})
    with pytest.raises(SchemaUsageError, match="no attribute 'priority'"):
        builder.document("report", {**data, "batchedReport": {"@priority": "high"}})


def test_invalid_documents_are_refused_unless_asked_for(builder: SchemaBuilder) -> None:
    data = minimal_report(make_faker())
    del data["reporter"]
    with pytest.raises(etree.DocumentInvalid):
        builder.document("report", data)
    assert b"<report>" in builder.document("report", data, validate=False)


class FakeServer:
    """The interface's calls answered with the wire layer alone; state lives in plain dicts."""

    def __init__(self) -> None:
        self.ids = itertools.count(1000)
        self.files: dict[int, list[str]] = {}
        self.finished: set[int] = set()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        expected = "Basic " + base64.b64encode(":".join(CREDENTIALS).encode()).decode()
        if request.headers.get("Authorization") != expected:
            return httpx.Response(401)
        headers = {"Request-ID": f"req-{next(self.ids)}", "Content-Type": "text/xml; charset=utf-8"}
        call = request.url.path.removeprefix("/ispws/")
        try:
            body = self._answer(call, request)
        except WireError as error:
            body = error_response(error)
        return httpx.Response(200, content=body, headers=headers)

    def _form_id(self, request: httpx.Request) -> int:
        fields = dict(httpx.QueryParams(request.content.decode()))
        return int(fields["id"])

    def _answer(self, call: str, request: httpx.Request) -> bytes:
        if call == "status":
            return report_response()
        if call == "xsd":
            return schema_bytes()
        if call == "submit":
            parse_report(request.content)
            report_id = next(self.ids)
            self.files[report_id] = []
            return report_response(report_id=report_id)
        if call == "upload":
            # Enough multipart handling for the fake: the web layer will use a real parser.
            report_id = int(request.content.split(b'name="id"\r\n\r\n')[1].split(b"\r\n")[0])
            content = request.content.split(b"application/octet-stream\r\n\r\n")[1].rsplit(b"\r\n--", 1)[0]
            digest = hash_upload(content, "upload")
            file_id = f"f{len(self.files[report_id]) + 1}"
            self.files[report_id].append(file_id)
            return report_response(report_id=report_id, file_id=file_id, md5=digest.md5)
        if call == "fileinfo":
            details = parse_file_details(request.content)
            if details.file_id not in self.files.get(details.report_id, []):
                raise WireError(ResponseCode.FILE_DOES_NOT_EXIST, "no such file")
            return report_response(report_id=details.report_id, file_id=details.file_id)
        report_id = self._form_id(request)
        if report_id not in self.files:
            raise WireError(ResponseCode.REPORT_DOES_NOT_EXIST, "no such report")
        if call == "finish":
            self.finished.add(report_id)
            return report_done_response(report_id=report_id, file_ids=self.files[report_id])
        del self.files[report_id]
        return report_response(report_id=report_id)


@pytest.fixture
def client(builder: SchemaBuilder) -> Iterator[IspwsClient]:
    transport = httpx.MockTransport(FakeServer())
    with httpx.Client(base_url="https://clearinghouse.test/ispws", auth=CREDENTIALS, transport=transport) as http:
        yield IspwsClient(http, builder)


def test_a_whole_session(client: IspwsClient) -> None:
    fake = make_faker()
    status = client.status()
    assert (status.http_status, status.code, status.root) == (200, 0, "reportResponse")
    assert status.request_id is not None
    assert client.xsd() == schema_bytes()

    opened = client.submit(realistic_report(fake))
    assert opened.code == 0
    assert opened.report_id is not None
    image = encoded(synthetic_image(), "PNG")
    uploaded = client.upload(opened.report_id, image, "pattern.png")
    assert uploaded.code == 0
    assert uploaded.hash == hashlib.md5(image).hexdigest()
    assert uploaded.file_id is not None
    described = client.fileinfo(file_details(fake, opened.report_id, uploaded.file_id))
    assert described.code == 0
    done = client.finish(opened.report_id)
    assert (done.root, done.code, done.report_id, done.file_ids) == (
        "reportDoneResponse",
        0,
        opened.report_id,
        [uploaded.file_id],
    )


def test_errors_come_back_as_schema_valid_answers(client: IspwsClient) -> None:
    assert client.submit(b"<report><broken></report>").code == ResponseCode.MALFORMED_XML
    assert client.submit(b'<!DOCTYPE report [<!ENTITY a "b">]><report/>').code == ResponseCode.INVALID_REQUEST
    unknown: dict[str, Any] = {"reportId": 1, "fileId": "nope"}
    assert client.fileinfo(unknown).code == ResponseCode.FILE_DOES_NOT_EXIST
    assert client.retract(1).code == ResponseCode.REPORT_DOES_NOT_EXIST


def test_a_retracted_report_is_gone(client: IspwsClient) -> None:
    opened = client.submit(minimal_report(make_faker()))
    assert opened.report_id is not None
    assert client.retract(opened.report_id).code == 0
    assert client.finish(opened.report_id).code == ResponseCode.REPORT_DOES_NOT_EXIST


def test_wrong_credentials_get_an_empty_401(builder: SchemaBuilder) -> None:
    transport = httpx.MockTransport(FakeServer())
    with httpx.Client(base_url="https://clearinghouse.test/ispws", auth=("x", "y"), transport=transport) as http:
        answer = IspwsClient(http, builder).status()
    assert (answer.http_status, answer.code) == (401, None)
