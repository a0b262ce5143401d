"""`POST /api/v1/reports:bulk` over real HTTP: platform authentication, every line's outcome, idempotent retries."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import sqlalchemy as sa

from clearinghouse.access.models import PlatformAccount
from clearinghouse.db.engine import Store
from clearinghouse.tipline import bulk_api, clues
from clearinghouse.tipline.models import Report
from clearinghouse.tipline.wire_schemas import MAX_ENTRIES, MAX_REPORT_ENTRIES, TOO_MANY_ENTRIES, ReportIntake
from clearinghouse.web.app import create_app
from tests.tipline.bulk_helpers import crowd, doc, image, line, ready
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


def _refs(store: Store) -> list[str | None]:
    with store.session() as session:
        return list(session.scalars(sa.select(Report.platform_ref).order_by(Report.id)))


def test_a_line_of_several_megabytes_is_answered_by_number(live: LiveServer, credentials: tuple[str, str]) -> None:
    long_line = b'{"platform_report_id": "long", "note": "' + b"n" * (8 * 1024 * 1024) + b'"}'

    def pieces() -> Iterator[bytes]:
        body = b"\n".join([line("r-1"), long_line, line("r-3")])
        for start in range(0, len(body), 65536):
            yield body[start : start + 65536]

    headers = {"Content-Type": "application/x-ndjson"}
    answer = httpx.post(live.url + PATH, content=pieces(), auth=credentials, headers=headers, timeout=60)
    result = answer.json()
    assert [(r["line"], r["platform_report_id"]) for r in result["reports"]] == [(1, "r-1"), (3, "r-3")]
    assert [(e["line"], e["platform_report_id"]) for e in result["errors"]] == [(2, "long")]


def test_a_line_listing_more_victims_than_the_bound_is_refused(
    live: LiveServer, credentials: tuple[str, str], store: Store
) -> None:
    crowded = doc(victims=[{}] * (MAX_ENTRIES + 1))
    result = _post(live, credentials, b"\n".join([line("crowded", crowded), line("fine")])).json()
    assert [r["platform_report_id"] for r in result["reports"]] == ["fine"]
    assert result["errors"] == [
        {
            "line": 1,
            "platform_report_id": "crowded",
            "errors": [
                {
                    "field": "report.victims",
                    "message": f"List should have at most {MAX_ENTRIES} items after validation, not {MAX_ENTRIES + 1}",
                }
            ],
        }
    ]
    assert _refs(store) == ["fine"]


def test_a_line_of_more_entries_in_all_than_the_bound_is_refused(
    live: LiveServer, credentials: tuple[str, str], store: Store
) -> None:
    crowded = line("crowded", doc(reported_persons=crowd(MAX_REPORT_ENTRIES + 1)))
    full = line("full", doc(reported_persons=crowd(MAX_REPORT_ENTRIES)))
    result = _post(live, credentials, b"\n".join([crowded, full])).json()
    assert [r["platform_report_id"] for r in result["reports"]] == ["full"]
    message = (
        f"holds more than {MAX_REPORT_ENTRIES} entries in all its lists together (parties, accounts, IP events, "
        f"phones, ...); at most {MAX_REPORT_ENTRIES} are accepted"
    )
    assert message == TOO_MANY_ENTRIES
    error = {"field": "report", "message": message}
    assert result["errors"] == [{"line": 1, "platform_report_id": "crowded", "errors": [error]}]
    assert _refs(store) == ["full"]


def test_an_unexpected_error_answers_what_is_stored_and_from_which_line_nothing_is(
    live: LiveServer, credentials: tuple[str, str], store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A bug in reading a report's location clues, which one line of the batch happens to trigger.
    real = clues.clues_of

    def clues_of(intake: ReportIntake) -> list[clues.Clue]:
        if intake.additional_info == "trips the bug":
            raise KeyError("region")
        return real(intake)

    monkeypatch.setattr(clues, "clues_of", clues_of)
    monkeypatch.setattr(bulk_api, "CHUNK_LINES", 3)
    lines = [line("r-1"), b"not json", b"", line("r-4"), line("r-5", doc(additional_info="trips the bug"))]
    lines += [line("r-6"), line("r-7"), line("r-8")]
    answer = _post(live, credentials, b"\n".join(lines))
    assert answer.status_code == 503
    assert answer.headers["content-type"].startswith("application/problem+json")
    result = answer.json()
    assert result["not_stored_from_line"] == 5
    assert result["detail"] == (
        "An unexpected error stopped the batch; the lines listed here are stored, none from line 5 on."
        " Send the batch again: nothing is stored twice."
    )
    assert [(r["line"], r["platform_report_id"], r["status"]) for r in result["reports"]] == [
        (1, "r-1", "accepted"),
        (4, "r-4", "accepted"),
    ]
    assert [e["line"] for e in result["errors"]] == [2]
    assert _refs(store) == ["r-1", "r-4"]
    # Once the bug is gone, the same batch sent again stores the rest, and nothing twice.
    monkeypatch.setattr(clues, "clues_of", real)
    again = _post(live, credentials, b"\n".join(lines)).json()
    assert (again["accepted"], again["already_on_file"]) == (4, 2)
    assert _refs(store) == ["r-1", "r-4", "r-5", "r-6", "r-7", "r-8"]
