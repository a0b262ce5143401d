"""The public report form over HTTP: a plain form, eight explained choices, a reference number on success and
the form again, naming the field, on a problem."""

from __future__ import annotations

import re
from html import unescape
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from clearinghouse.access.audit import history
from clearinghouse.db.engine import Store
from clearinghouse.tipline.models import IncidentType, Report, ReportSource, ReportStatus
from clearinghouse.tipline.public import INCIDENT_CHOICES
from tests.web.live import LiveServer

GOOD: dict[str, str] = {
    "incident_type": IncidentType.ONLINE_ENTICEMENT.value,
    "description": "An adult on a game chat keeps asking a 12-year-old to send photos.",
    "incident_date": "2024-05-01",
    "url": "https://games.example/profile/someone",
    "platform": "Example Games",
    "suspect_username": "someone123",
    "child_age": "12",
    "state": "ND",
    "zip_code": "58102",
    "city": "Fargo",
    "reporter_email": "parent@example.org",
}


def reports(store: Store) -> list[Report]:
    with store.session() as session:
        return list(session.scalars(sa.select(Report)))


def test_the_form_works_without_javascript(live: LiveServer) -> None:
    page = httpx.get(f"{live.url}/report")
    assert page.status_code == 200
    assert page.headers["Content-Type"].startswith("text/html")
    html = unescape(page.text)
    assert '<form method="post" action="/report"' in html
    assert "<script" not in html
    radios = re.findall(r'<input type="radio" name="incident_type" id="[^"]+" value="([^"]+)"', html)
    assert sorted(radios) == sorted(t.value for t in IncidentType)
    for choice in INCIDENT_CHOICES:
        assert choice.help in html
    assert "call 911" in html


def test_a_report_is_filed_and_confirmed_with_its_reference(live: LiveServer, store: Store) -> None:
    response = httpx.post(f"{live.url}/report", data={**GOOD, "danger": "yes"})
    assert response.status_code == 201
    reference = re.search(r'<p class="reference" id="reference">(\d+)</p>', response.text)
    assert reference is not None
    (report,) = reports(store)
    assert report.id == int(reference.group(1))
    assert (report.source, report.status, report.platform_id) == (ReportSource.PUBLIC, ReportStatus.FINISHED, None)
    assert report.processed_at is None
    assert report.escalation_reason
    assert "handled as urgent" in response.text
    assert report.location_evidence
    assert {"kind": "address", "party": "victim", "region": "ND", "zip_code": "58102", "country": "US"} in (
        report.location_evidence
    )
    assert report.body is not None
    assert report.body["additional_info"] == GOOD["description"]
    with store.session() as session:
        events = history(session=session, subject_type="report", subject_id=report.id)
    assert [(e.action, e.actor) for e in events] == [("report.opened", "public"), ("report.finished", "public")]


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"incident_type": ""}, "incident_type", "What happened is needed"),
        ({"incident_type": "Something else"}, "incident_type", "What happened is needed"),
        ({"description": "short"}, "description", "Tell us about it is needed"),
        ({"incident_date": ""}, "incident_date", "When it happened is needed"),
        ({"incident_date": "2999-01-01"}, "incident_date", "is in the future"),
        ({"incident_date": "yesterday"}, "incident_date", "is not a date we can read"),
        ({"child_age": "19"}, "child_age", "The child's age must be a whole number from 0 to 17"),
        ({"state": "XX"}, "state", "is not one we know"),
        ({"zip_code": "ABCDE"}, "zip_code", "ZIP code must be five digits"),
        # Digits of other scripts, which no ZIP directory lists: kept, they placed nothing.
        ({"zip_code": "\uff15\uff18\uff11\uff10\uff12"}, "zip_code", "ZIP code must be five digits"),
        ({"zip_code": "\u0665\u0668\u0661\u0660\u0662"}, "zip_code", "ZIP code must be five digits"),
        # A NUL was stored as sent on SQLite, and failed the write on PostgreSQL.
        ({"description": "An adult keeps asking\x00 for photos."}, "description", "Tell us about it holds a"),
        ({"city": "Far\x00go"}, "city", "City or town holds a"),
        ({"reporter_email": "not an address"}, "reporter_email", "does not look like an email address"),
        ({"url": "not a url"}, "url", "does not look like a web address"),
        ({"description": "x" * 5001}, "description", "is too long"),
    ],
)
def test_a_problem_shows_the_form_again_naming_the_field(
    live: LiveServer, store: Store, change: dict[str, Any], field: str, words: str
) -> None:
    response = httpx.post(f"{live.url}/report", data={**GOOD, **change})
    assert response.status_code == 422
    html = unescape(response.text)
    assert f'<a href="#{field}">' in html
    assert words in html
    assert f'id="{field}-error"' in html
    # What the person typed is kept.
    assert 'value="someone123"' in html
    assert reports(store) == []


def test_an_anonymous_minimal_report_is_accepted(live: LiveServer, store: Store) -> None:
    minimal = {key: GOOD[key] for key in ("incident_type", "description", "incident_date")}
    response = httpx.post(f"{live.url}/report", data=minimal)
    assert response.status_code == 201
    (report,) = reports(store)
    assert report.location_evidence == []


def test_a_flood_from_one_address_is_held_back_with_the_answers_kept(store: Store) -> None:
    from clearinghouse.web.app import create_app
    from tests.web.live import serve

    with serve(create_app(store, public_reports_per_hour=3)) as live:
        filed = [httpx.post(f"{live.url}/report", data=GOOD).status_code for _ in range(3)]
        held = httpx.post(f"{live.url}/report", data={**GOOD, "description": "The fourth report, kept in the form."})
    assert filed == [201, 201, 201]
    assert held.status_code == 429
    # Said plainly, with when to try again, the person's answers still in the form, and nothing stored.
    wait = int(held.headers["Retry-After"])
    assert 3000 < wait <= 3600
    html = unescape(held.text)
    assert "Your report has not been sent yet" in html
    assert "send it again in 60 minutes" in html or "send it again in 59 minutes" in html
    assert "The fourth report, kept in the form." in html
    assert "call 911" in html
    assert len(reports(store)) == 3


def test_the_form_answers_head_as_get(live: LiveServer) -> None:
    """Link checkers and uptime monitors ask with HEAD, which every server must support for a page it serves by
    GET (RFC 9110): it was refused with 405."""
    head = httpx.head(f"{live.url}/report")
    assert head.status_code == 200
    assert head.headers["Content-Type"].startswith("text/html")
    assert head.content == b""


def test_every_text_field_tells_the_browser_the_length_the_server_takes(live: LiveServer, store: Store) -> None:
    html = httpx.get(f"{live.url}/report").text
    fields = re.findall(r'<(?:input type="(?:text|email|tel|url)"|textarea) id="[^"]+" name="([^"]+)"([^>]*)>', html)
    assert {name for name, _ in fields} >= {"description", "url", "platform", "reporter_email", "city"}
    for name, attributes in fields:
        declared = re.search(r'maxlength="(\d+)"', attributes)
        assert declared is not None, name
        limit = int(declared[1])
        too_long = {**GOOD, name: "a" * (limit + 1)}
        refused = httpx.post(f"{live.url}/report", data=too_long)
        assert refused.status_code == 422, name
        assert f'id="{name}-error"' in unescape(refused.text), name
    assert reports(store) == []


def test_a_post_from_another_site_files_nothing_and_shows_the_form_filled_in(live: LiveServer, store: Store) -> None:
    foreign = httpx.post(f"{live.url}/report", data=GOOD, headers={"Sec-Fetch-Site": "cross-site"})
    assert foreign.status_code == 403
    html = unescape(foreign.text)
    assert "another website's page" in html
    assert 'value="someone123"' in html  # the answers, to send from our own page if they are the person's
    assert '<form method="post" action="/report"' in html
    assert reports(store) == []
    for site in ("same-origin", "none"):  # our own page; an address typed or a bookmark
        sent = httpx.post(f"{live.url}/report", data=GOOD, headers={"Sec-Fetch-Site": site})
        assert sent.status_code == 201, site
    assert len(reports(store)) == 2
