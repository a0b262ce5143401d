"""`POST /api/v1/reports:bulk` over real HTTP: platform authentication, every line's outcome, idempotent retries."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from clearinghouse.access.models import PlatformAccount
from clearinghouse.db.engine import Store
from clearinghouse.tipline import bulk_api
from clearinghouse.tipline.models import Report
from clearinghouse.web.app import create_app
from tests.tipline.bulk_helpers import image, line, ready
from tests.web.live import LiveServer, add_platform, serve

PATH = "/api/v1/reports:bulk"


@pytest.fixture
def live(store: Store) -> Iterator[LiveServer]:
    ready(store, "Seeded Platform")
    with serve(create_app(store)) as server:
        yield server


@pytest.fixture
def credentials(store: Store) -> tuple[str, str]:
    return add_platform(store, "Example Chat")


def _post(live: LiveServer, auth: tuple[str, str] | None, body: bytes) -> httpx.Response:
    headers = {"Content-Type": "application/x-ndjson"}
    return httpx.post(live.url + PATH, content=body, auth=auth, headers=headers, timeout=60)


def test_without_valid_credentials_nothing_is_read(live: LiveServer, credentials: tuple[str, str]) -> None:
    for auth in (None, (credentials[0], "wrong")):
        answer = _post(live, auth, line("r-1"))
        assert answer.status_code == 401
        assert answer.headers["WWW-Authenticate"].startswith("Basic")


def test_each_line_is_answered_and_a_retry_stores_nothing_twice(
    live: LiveServer, credentials: tuple[str, str], store: Store
) -> None:
    body = b"\n".join([line("r-1", files=[image(1)]), b'{"platform_report_id": "r-2"}', b"", line("r-3")]) + b"\n"
    answer = _post(live, credentials, body)
    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert (result["accepted"], result["already_on_file"], result["rejected"]) == (2, 0, 1)
    assert [(r["line"], r["platform_report_id"], r["status"]) for r in result["reports"]] == [
        (1, "r-1", "accepted"),
        (4, "r-3", "accepted"),
    ]
    assert result["errors"][0]["line"] == 2
    assert result["errors"][0]["platform_report_id"] == "r-2"
    assert {e["field"] for e in result["errors"][0]["errors"]} == {"received_at", "report"}
    assert "Request-ID" in answer.headers
    again = _post(live, credentials, body).json()
    assert (again["accepted"], again["already_on_file"]) == (0, 2)
    assert [r["report_id"] for r in again["reports"]] == [r["report_id"] for r in result["reports"]]
    with store.session() as session:
        stored = session.get(Report, result["reports"][0]["report_id"])
        account = session.get(PlatformAccount, stored.platform_id if stored else None)
    assert stored is not None
    assert account is not None
    assert (stored.platform_ref, account.username) == ("r-1", credentials[0])


def test_a_large_batch_is_stored_in_several_transactions(
    live: LiveServer, credentials: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bulk_api, "CHUNK_LINES", 7)
    body = b"\n".join(line(f"r-{i}") for i in range(30))
    result = _post(live, credentials, body).json()
    assert result["accepted"] == 30
    assert [r["line"] for r in result["reports"]] == list(range(1, 31))


def test_an_empty_body_is_a_client_error(live: LiveServer, credentials: tuple[str, str]) -> None:
    answer = _post(live, credentials, b"\n\n")
    assert answer.status_code == 400
    assert answer.headers["content-type"].startswith("application/problem+json")
