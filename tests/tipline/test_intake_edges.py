"""What reporters and attackers really send, over real HTTP, to every way in: the platform interface, the JSON
API and bulk intake. Each is answered with a clear refusal naming what is wrong, and nothing is stored of it."""

from __future__ import annotations

import base64
import gzip
import json
import socket
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from clearinghouse.db.engine import Store
from clearinghouse.geo.agencies import seed_directory
from clearinghouse.tipline import pipeline
from clearinghouse.tipline.bulk import NOT_UTF8
from clearinghouse.tipline.models import FILENAME_MAX_CHARS, Report, ReportFile
from clearinghouse.web.bodies import MAX_FORM_FIELDS
from tests.tipline.bulk_helpers import doc, line
from tests.tipline.factories import make_faker, minimal_report
from tests.tipline.ispws_client import IspwsClient, SchemaBuilder
from tests.web.live import LiveServer, add_platform, captured_logs, serve_store


def report_count(store: Store) -> int:
    with store.session() as session:
        return session.scalar(sa.select(sa.func.count()).select_from(Report)) or 0


@pytest.fixture
def api(live: LiveServer, credentials: tuple[str, str]) -> httpx.Client:
    return httpx.Client(base_url=live.url, auth=credentials, timeout=30)


def submission(**report: Any) -> bytes:
    return json.dumps({"report": doc(**report)}).encode()


def test_a_compressed_body_is_refused_by_its_encoding(
    client: IspwsClient, api: httpx.Client, schema_builder: SchemaBuilder, store: Store
) -> None:
    """gzip read as it is was answered as malformed XML, invalid JSON or UTF-16 text."""
    compressed = {"Content-Encoding": "gzip"}
    document = schema_builder.document("report", minimal_report(make_faker()))
    answer = client._answer(client.http.post("submit", content=gzip.compress(document), headers=compressed))
    assert (answer.http_status, answer.code) == (200, 4000)
    assert "Content-Encoding 'gzip'" in str(answer.description)
    for path, body in (("/api/v1/reports", submission()), ("/api/v1/reports:bulk", line("gz-1"))):
        response = api.post(path, content=gzip.compress(body), headers=compressed)
        assert response.status_code == 415, response.text
        assert "Content-Encoding 'gzip' is not accepted" in response.json()["detail"]
    assert report_count(store) == 0
    identity = api.post("/api/v1/reports", content=submission(), headers={"Content-Encoding": "identity"})
    assert identity.status_code == 201, identity.text


@pytest.fixture
def on_either_store(any_store: Store, schema_builder: SchemaBuilder) -> Iterator[IspwsClient]:
    """A platform's client of the interface served over SQLite or PostgreSQL."""
    auth = add_platform(any_store, "Edge Chat")
    with serve_store(any_store) as live, httpx.Client(base_url=live.ispws, auth=auth, timeout=30) as http:
        yield IspwsClient(http, schema_builder)


@pytest.mark.parametrize(
    ("filename", "named"),
    [("photo\x00.jpg", "NUL character"), ("a" * (FILENAME_MAX_CHARS + 1), f"at most {FILENAME_MAX_CHARS}")],
)
def test_an_upload_file_name_no_store_keeps_is_refused(
    on_either_store: IspwsClient, any_store: Store, filename: str, named: str
) -> None:
    """SQLite kept a NUL and an over-long name; PostgreSQL failed on them, answered as 1110 (the store failed)."""
    client = on_either_store
    report_id = client.submit(minimal_report(make_faker())).report_id
    assert report_id is not None
    # Written out by hand: httpx escapes control characters in a file name (a NUL as %00); a client need not.
    body = (
        f'--edge\r\nContent-Disposition: form-data; name="id"\r\n\r\n{report_id}\r\n'
        f'--edge\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n\r\n'
        "synthetic bytes\r\n--edge--\r\n"
    ).encode()
    multipart = {"Content-Type": "multipart/form-data; boundary=edge"}
    answer = client._answer(client.http.post("upload", content=body, headers=multipart))
    assert (answer.http_status, answer.code) == (200, 4000), answer.description
    assert named in str(answer.description)
    with any_store.session() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(ReportFile)) == 0
    longest = client.upload(report_id, b"synthetic bytes", "é" * FILENAME_MAX_CHARS)
    assert longest.code == 0, longest.description


URLENCODED = {"Content-Type": "application/x-www-form-urlencoded"}


def test_a_form_that_is_not_utf8_or_has_too_many_fields_is_named(
    live: LiveServer, client: IspwsClient, store: Store
) -> None:
    """A Latin-1 escape was read as U+FFFD and filed; too many fields were called "not valid UTF-8"."""
    latin1 = b"incident_type=Child+Sex+Tourism&incident_date=2024-01-01&description=Le+caf%E9+du+coin+again"
    public = httpx.post(f"{live.url}/report", content=latin1, headers=URLENCODED)
    assert public.status_code == 400, public.text
    assert "not UTF-8" in public.json()["detail"]
    report_id = client.submit(minimal_report(make_faker())).report_id
    assert report_id is not None
    crowded = "&".join([f"id={report_id}", *(f"extra{i}=1" for i in range(MAX_FORM_FIELDS))]).encode()
    answer = client._answer(client.http.post("finish", content=crowded, headers=URLENCODED))
    assert (answer.http_status, answer.code) == (200, 4000)
    assert f"at most {MAX_FORM_FIELDS} fields" in str(answer.description)
    assert client.finish(report_id).code == 0  # nothing of the refused call was kept
    assert report_count(store) == 1


def test_a_backslash_before_u0000_is_text_not_a_nul(api: httpx.Client, store: Store) -> None:
    r"""`\\u0000` in JSON is a backslash and the letters u0000 (a Windows path, a quoted escape): it was refused as
    a NUL character. `\\\u0000` (a backslash, then a NUL) still is."""
    literal = "C:\\u0000\\logs"  # the text the reporter wrote, with its backslashes
    report = {"additional_info": literal}
    filed = api.post("/api/v1/reports", content=submission(**report))
    assert filed.status_code == 201, filed.text
    batch = api.post("/api/v1/reports:bulk", content=line("slash-1", doc(**report)))
    assert batch.json()["accepted"] == 1, batch.text
    with store.session() as session:
        bodies = list(session.scalars(sa.select(Report.body)))
    assert [body["additional_info"] for body in bodies if body is not None] == [literal, literal]
    nul = json.dumps({"report": doc(additional_info="C:\\\x00")}).encode()
    assert b"\\\\\\u0000" in nul
    refused = api.post("/api/v1/reports", content=nul)
    assert refused.status_code == 422
    assert "NUL character" in refused.text
    refused_line = api.post(
        "/api/v1/reports:bulk",
        content=nul.replace(b"{", b'{"platform_report_id": "n", ' + b'"received_at": "2024-01-01T00:00:00Z", ', 1),
    )
    assert "NUL character" in refused_line.text
    assert report_count(store) == 2


def test_a_trailing_slash_is_served_not_redirected(live: LiveServer, client: IspwsClient, api: httpx.Client) -> None:
    """The router redirected (307, empty body) to a location built as the server saw the request: plain http
    behind a TLS proxy, where the client would post the report again."""
    answer = client._answer(
        client.http.post("submit/", content=client.builder.document("report", minimal_report(make_faker())))
    )
    assert (answer.http_status, answer.code) == (200, 0)
    assert answer.report_id is not None
    assert client._answer(client.http.post("finish/", data={"id": str(answer.report_id)})).code == 0
    assert api.post("/api/v1/reports/", content=submission()).status_code == 201
    assert httpx.get(f"{live.url}/report/").status_code == 200
    unknown = client._answer(client.http.get("nothing/"))
    assert (unknown.http_status, unknown.code) == (404, 1210)


def test_a_body_cut_short_stores_nothing_and_is_no_error(store: Store, credentials: tuple[str, str]) -> None:
    """A client that goes away mid-body was logged as an unexpected error, as if the server had failed."""
    token = base64.b64encode(":".join(credentials).encode()).decode()
    with captured_logs() as logs, serve_store(store) as live:
        for path in ("/ispws/submit", "/api/v1/reports", "/api/v1/reports:bulk"):
            with socket.create_connection((live.host, live.port), timeout=10) as connection:
                head = (
                    f"POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {token}\r\nContent-Length: 5000\r\n\r\n"
                )
                connection.sendall(head.encode() + b'{"report": {"incident_type": ')
                connection.shutdown(socket.SHUT_WR)
                assert connection.recv(1000) == b""  # nobody left to answer
        time.sleep(0.5)  # the server notices the disconnect on its own thread
    assert report_count(store) == 0
    assert '"level": "error"' not in logs.getvalue(), logs.getvalue()[-2000:]
    assert logs.getvalue().count("client went away") == 3


def test_a_document_nested_too_deep_is_named_as_such(client: IspwsClient, store: Store) -> None:
    """It was answered "entity expansion is not accepted", with libxml2's advice to use XML_PARSE_HUGE."""
    deep = b"<report>" + b"<a>" * 300 + b"</a>" * 300 + b"</report>"
    answer = client.submit(deep)
    assert (answer.http_status, answer.code) == (200, 4000)
    assert answer.description == "the document goes past a limit of the XML parser: Excessive depth in document: 256"
    assert report_count(store) == 0


def test_a_json_body_in_another_encoding_is_named(api: httpx.Client, store: Store) -> None:
    """A UTF-8 byte order mark (which bulk lines may carry) was refused as invalid JSON; UTF-16 was answered
    "expected value at line 1 column 1", naming nothing."""
    with_bom = api.post("/api/v1/reports", content=b"\xef\xbb\xbf" + submission())
    assert with_bom.status_code == 201, with_bom.text
    utf16 = api.post("/api/v1/reports", content=submission().decode().encode("utf-16"))
    assert utf16.status_code == 422
    assert utf16.json()["errors"][0] == {"field": "(body)", "message": NOT_UTF8}
    assert report_count(store) == 1


def test_a_blank_platform_report_id_is_refused_as_in_bulk(api: httpx.Client, store: Store) -> None:
    """Bulk lines refuse an id of spaces; the JSON API filed it, and took it as the key of later retries."""
    blank = json.dumps({"platform_report_id": "   ", "report": doc()}).encode()
    response = api.post("/api/v1/reports", content=blank)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "platform_report_id"
    assert report_count(store) == 0


@pytest.fixture
def api_on_either_store(any_store: Store) -> Iterator[httpx.Client]:
    """A platform's client of the JSON API and bulk intake, served over SQLite or PostgreSQL (with the agency
    directory, for the pipeline to release to)."""
    with any_store.unit_of_work() as session:
        seed_directory(session)
    auth = add_platform(any_store, "Edge Photos")
    with serve_store(any_store) as live, httpx.Client(base_url=live.url, auth=auth, timeout=30) as http:
        yield http


def test_a_batch_naming_an_id_no_store_keeps_is_refused(api_on_either_store: httpx.Client, any_store: Store) -> None:
    """A grouped report id longer than a platform id (120 characters) was filed; on PostgreSQL the pipeline then
    failed on it at every run, and every report queued after it waited for good."""
    http = api_on_either_store
    too_long = {"reason": "VIRAL_POTENTIAL_MEME", "grouped_report_ids": ["g" * 121]}
    single = http.post("/api/v1/reports", content=submission(batch=too_long))
    assert single.status_code == 422
    assert single.json()["errors"][0]["field"] == "report.batch.grouped_report_ids.0"
    lines = line("long-group", doc(batch=too_long)) + b"\n" + line("next", doc(state="NY"))
    batch = http.post("/api/v1/reports:bulk", content=lines).json()
    assert (batch["accepted"], batch["rejected"]) == (1, 1)
    assert batch["errors"][0]["errors"][0]["field"] == "report.batch.grouped_report_ids.0"
    longest = {"reason": "VIRAL_POTENTIAL_MEME", "grouped_report_ids": ["g" * 120]}
    assert http.post("/api/v1/reports", content=submission(batch=longest)).status_code == 201
    assert pipeline.run(any_store) == 2
