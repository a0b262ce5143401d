"""What reporters and attackers really send, over real HTTP, to every way in: the platform interface, the JSON
API and bulk intake. Each is answered with a clear refusal naming what is wrong, and nothing is stored of it."""

from __future__ import annotations

import gzip
import json
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from clearinghouse.db.engine import Store
from clearinghouse.tipline.models import Report
from tests.tipline.bulk_helpers import doc, line
from tests.tipline.factories import make_faker, minimal_report
from tests.tipline.ispws_client import IspwsClient, SchemaBuilder
from tests.web.live import LiveServer


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
