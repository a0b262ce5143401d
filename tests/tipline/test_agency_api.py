"""Law enforcement's view over real HTTP: an officer lists and reads only what was made available to the
jurisdiction of their agency (bundle members through their lead), every read and listing is recorded, and a
report released later to another jurisdiction appears there; the look-ups also on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from clearinghouse.access.audit import history
from clearinghouse.access.models import AuditEvent, Role
from clearinghouse.access.service import new_user_password, set_user_active
from clearinghouse.cli import app as cli_app
from clearinghouse.db.engine import Store
from clearinghouse.geo.models import Agency, AgencyKind
from clearinghouse.tipline import availability
from clearinghouse.tipline.onepass import Processing
from tests.tipline.agency_helpers import add_user, agency_of, officer, set_agency_active
from tests.tipline.bulk_helpers import doc, image, line, ready, report_by_ref, send
from tests.web.live import LiveServer, add_platform

runner = CliRunner()


@pytest.fixture
def filed(store: Store) -> dict[str, int]:
    """Reports filed and released by bulk intake: two in NY, one in CA, and a same-content pair (NY lead, TX
    member) that forms a bundle."""
    platform = ready(store)
    lines = [
        line("ny-1", doc(state="NY"), files=[image(1)]),
        line("ca-1", doc(state="CA"), files=[image(2)]),
        line("ny-2", doc(state="NY"), files=[image(3), image(4)]),
        line("lead", doc(state="NY"), files=[image(9)]),
        line("member", doc(state="TX"), files=[image(9)]),
    ]
    summary = send(store, platform, lines, processing=Processing())
    assert summary.accepted == 5
    return {ref: report_by_ref(store, platform, ref).id for ref in ("ny-1", "ca-1", "ny-2", "lead", "member")}


@pytest.fixture
def as_officer(live: LiveServer) -> Iterator[Any]:
    clients: list[httpx.Client] = []

    def client(credentials: tuple[str, str]) -> httpx.Client:
        made = httpx.Client(base_url=f"{live.url}/api/v1/agency/", auth=credentials, timeout=30)
        clients.append(made)
        return made

    yield client
    for made in clients:
        made.close()


def _actions(store: Store, actor: str) -> list[str]:
    with store.session() as session:
        query = sa.select(AuditEvent.action).where(AuditEvent.actor == actor).order_by(AuditEvent.id)
        return list(session.scalars(query))


def test_an_officer_lists_what_was_made_available_to_their_state_in_release_order(
    store: Store, filed: dict[str, int], as_officer: Any
) -> None:
    ny = as_officer(officer(store, "NY"))
    page = ny.get("reports")
    assert page.status_code == 200, page.text
    answer = page.json()
    assert answer["jurisdiction"] == "NY"
    listed = [r["report_id"] for r in answer["reports"]]
    assert set(listed) == {filed["ny-1"], filed["ny-2"], filed["lead"]}
    releases = [r["release_id"] for r in answer["reports"]]
    assert releases == sorted(releases)
    assert answer["next_after"] == releases[-1]
    lead = next(r for r in answer["reports"] if r["report_id"] == filed["lead"])
    assert (lead["bundle_size"], lead["platform"], lead["state_code"]) == (2, "Example Social", "NY")
    # Polling from the last release seen answers nothing new; pages follow each other without gaps.
    again = ny.get("reports", params={"after": answer["next_after"]}).json()
    assert (again["reports"], again["next_after"]) == ([], answer["next_after"])
    first = ny.get("reports", params={"limit": 1}).json()
    rest = ny.get("reports", params={"after": first["next_after"]}).json()
    assert [r["report_id"] for r in first["reports"] + rest["reports"]] == listed
    # Each non-empty listing is recorded with the reports it showed.
    assert _actions(store, "user:officer.ny@example.org") == ["reports.listed"] * 3


def test_an_officer_reads_a_report_of_their_state_and_never_another_states(
    store: Store, filed: dict[str, int], as_officer: Any
) -> None:
    ny = as_officer(officer(store, "NY"))
    read = ny.get(f"reports/{filed['ny-2']}")
    assert read.status_code == 200, read.text
    report = read.json()
    assert (report["report_id"], report["state_code"], report["status"]) == (filed["ny-2"], "NY", "finished")
    assert [f["md5"] for f in report["files"]] == [f"{3:032x}", f"{4:032x}"]
    assert report["platform_report_id"] == "ny-2"
    assert report["report"]["incident_type"]
    assert {r["agency"] for r in report["releases"]}
    assert report["location_rule"]
    refused = ny.get(f"reports/{filed['ca-1']}")
    assert refused.status_code == 404
    assert refused.headers["content-type"].startswith("application/problem+json")
    missing = ny.get("reports/999999")
    assert missing.status_code == 404
    with store.session() as session:
        ny2 = [(e.action, e.actor) for e in history(session=session, subject_type="report", subject_id=filed["ny-2"])]
        ca1 = [(e.action, e.actor) for e in history(session=session, subject_type="report", subject_id=filed["ca-1"])]
    assert ("report.read", "user:officer.ny@example.org") in ny2
    assert ("report.read_refused", "user:officer.ny@example.org") in ca1
    assert ("report.read", "user:officer.ny@example.org") not in ca1


def test_a_bundle_is_seen_whole_through_its_lead_wherever_it_was_made_available(
    store: Store, filed: dict[str, int], as_officer: Any
) -> None:
    tx = as_officer(officer(store, "TX"))
    listed = [r["report_id"] for r in tx.get("reports").json()["reports"]]
    assert listed == [filed["lead"]]  # the member is not released itself: its state receives the lead
    lead = tx.get(f"reports/{filed['lead']}").json()
    assert lead["bundle"]["lead_report_id"] == filed["lead"]
    assert [m["report_id"] for m in lead["bundle"]["members"]] == [filed["member"]]
    assert lead["bundle"]["members"][0]["state_code"] == "TX"
    member = tx.get(f"reports/{filed['member']}")
    assert member.status_code == 200
    assert member.json()["bundle"]["members"] == []
    assert member.json()["release_id"] == lead["release_id"]
    ca = as_officer(officer(store, "CA"))
    assert ca.get(f"reports/{filed['member']}").status_code == 404


def test_a_report_released_later_to_another_state_appears_there_and_is_shown_to_staff(
    store: Store, filed: dict[str, int], as_officer: Any
) -> None:
    ca = as_officer(officer(store, "CA"))
    before = ca.get("reports").json()
    url = store.url
    released = runner.invoke(
        cli_app,
        [
            "tipline",
            "release",
            str(filed["ny-1"]),
            "--to",
            "ca",
            "--reason",
            "suspect moved",
            "--by",
            "analyst-7",
            "--url",
            url,
        ],
    )
    assert released.exit_code == 0, released.output
    assert "made available to CA" in released.output
    again = runner.invoke(
        cli_app, ["tipline", "release", str(filed["ny-1"]), "--to", "CA", "--reason", "again", "--url", url]
    )
    assert again.exit_code == 0
    assert "nothing changed" in again.output
    after = ca.get("reports", params={"after": before["next_after"]}).json()
    assert [r["report_id"] for r in after["reports"]] == [filed["ny-1"]]
    read = ca.get(f"reports/{filed['ny-1']}").json()
    assert {r["reason"] for r in read["releases"]} == {"suspect moved"}  # only CA's releases are shown to CA
    shown = runner.invoke(cli_app, ["tipline", "show", str(filed["ny-1"]), "--by", "analyst-7", "--url", url])
    assert shown.exit_code == 0, shown.output
    assert '"suspect moved"' in shown.output
    assert '"located"' in shown.output
    assert _actions(store, "cli:analyst-7") == ["report.released", "report.read"]
    for bad, message in [
        (["--to", "ZZ", "--reason", "x"], "unknown jurisdiction"),
        (["--to", "CA", "--reason", " "], "reason"),
        (
            ["--to", "CA", "--reason", "x", "--agency", str(agency_of(store, "TX"))],
            "not law-enforcement agencies of CA",
        ),
    ]:
        refused = runner.invoke(cli_app, ["tipline", "release", str(filed["ca-1"]), *bad, "--url", url])
        assert refused.exit_code == 1, refused.output
        assert message in refused.output
    assert runner.invoke(cli_app, ["tipline", "show", "999999", "--url", url]).exit_code == 1


def test_only_active_law_enforcement_users_are_let_in(
    store: Store, filed: dict[str, int], as_officer: Any, live: LiveServer
) -> None:
    anonymous = httpx.get(f"{live.url}/api/v1/agency/reports", timeout=30)
    assert anonymous.status_code == 401
    assert "WWW-Authenticate" in anonymous.headers
    email, password = officer(store, "NY")
    assert as_officer((email, password + "x")).get("reports").status_code == 401
    platform = add_platform(store, "Other Photos")
    assert as_officer(platform).get("reports").status_code == 401  # a platform is not a user
    analyst = add_user(store, "analyst@example.org", Role.ANALYST, None)
    assert as_officer(analyst).get("reports").status_code == 403
    worker = add_user(
        store, "worker@example.org", Role.SOCIAL_SERVICES, agency_of(store, "NY", AgencyKind.SOCIAL_SERVICES)
    )
    assert as_officer(worker).get(f"reports/{filed['ny-1']}").status_code == 403
    with store.unit_of_work() as session:
        set_user_active(session=session, email=email, active=False)
    assert as_officer((email, password)).get("reports").status_code == 401
    other = add_user(store, "other.officer@example.org", Role.LAW_ENFORCEMENT, agency_of(store, "NY"))
    assert as_officer(other).get("reports", params={"limit": 0}).status_code == 422
    assert as_officer(other).get("reports/0").status_code == 422


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_made_available_lists_each_report_once_and_visibility_follows_releases(
    engine: str, request: pytest.FixtureRequest
) -> None:
    target: Store = request.getfixturevalue("store" if engine == "sqlite" else "pg_store")
    platform = ready(target)
    send(target, platform, [line("a", doc(state="NY"), files=[image(1)])], processing=Processing())
    report_id = report_by_ref(target, platform, "a").id
    with target.unit_of_work() as session:
        other_ny = session.scalars(
            sa.select(Agency).where(Agency.jurisdiction_code == "NY", Agency.kind == AgencyKind.STATE_LAW_ENFORCEMENT)
        ).first()
        assert other_ny is not None
        availability.release_to_jurisdiction(
            session=session, report_id=report_id, jurisdiction_code="NY", agencies=[other_ny], actor="t", reason="also"
        )
        local = other_ny.id
    with target.session() as session:
        listed = availability.made_available_to(session=session, jurisdiction_code="NY")
        assert [item.report.id for item in listed] == [report_id]  # two releases there, listed once
        assert availability.made_available_to(session=session, jurisdiction_code="NY", after=listed[0].release_id) == []
        assert availability.visible_to_agency(session=session, report_id=report_id, agency_id=local)
        assert not availability.visible_to_agency(
            session=session, report_id=report_id, agency_id=agency_of(target, "CA")
        )
        social = agency_of(target, "NY", AgencyKind.SOCIAL_SERVICES)
        assert not availability.visible_to_agency(session=session, report_id=report_id, agency_id=social)


def test_an_inactive_agency_or_a_deactivated_officer_is_shut_out_at_once(
    store: Store, filed: dict[str, int], as_officer: Any, live: LiveServer
) -> None:
    email, password = officer(store, "NY")
    ny = as_officer((email, password))
    assert ny.get("reports").status_code == 200  # the credentials are now cached in the worker
    agency = agency_of(store, "NY")
    set_agency_active(store, agency, False)
    listed = ny.get("reports")
    assert listed.status_code == 403, listed.text
    assert listed.json()["title"] == "Agency not active"
    assert "New York ICAC Task Force" in listed.json()["detail"]
    read = ny.get(f"reports/{filed['ny-1']}")
    assert read.status_code == 403
    with store.session() as session:
        refusals = [e.detail for e in history(session=session, subject_type="report", subject_id=filed["ny-1"])
                    if e.action == "report.read_refused"]  # fmt: skip
    assert refusals == [{"agency": agency, "reason": "agency not active"}]
    set_agency_active(store, agency, True)
    assert ny.get("reports").status_code == 200
    with store.unit_of_work() as session:
        set_user_active(session=session, email=email, active=False)
    assert len(live.context.user_credentials) == 1  # still cached: the store is asked all the same
    assert ny.get("reports").status_code == 401
    assert ny.get(f"reports/{filed['ny-1']}").status_code == 401
    with store.unit_of_work() as session:
        set_user_active(session=session, email=email, active=True)
    assert ny.get("reports").status_code == 200
    with store.unit_of_work() as session:
        replaced = new_user_password(session=session, email=email).password
    assert ny.get("reports").status_code == 401  # the old password, though still cached
    assert as_officer((email, replaced)).get("reports").status_code == 200
    social = agency_of(store, "NY", AgencyKind.SOCIAL_SERVICES)
    worker = as_officer(add_user(store, "worker@example.org", Role.SOCIAL_SERVICES, social))
    assert worker.get(f"reports/{filed['ny-2']}").status_code == 403
    with store.session() as session:
        events = history(session=session, subject_type="report", subject_id=filed["ny-2"])
    assert [(e.action, e.actor, e.detail) for e in events if e.action.startswith("report.read")] == [
        ("report.read_refused", "user:worker@example.org", {"agency": social, "reason": "not law enforcement"})
    ]


@pytest.mark.parametrize(
    ("path", "field", "problem"),
    [
        ("reports?limit=0", "query.limit", "greater than or equal to 1"),
        ("reports?limit=501", "query.limit", "less than or equal to 500"),
        ("reports?limit=ten", "query.limit", "valid integer"),
        ("reports?after=-1", "query.after", "greater than or equal to 0"),
        ("reports?after=99999999999999999999", "query.after", "less than or equal to 9223372036854775807"),
        ("reports/0", "path.report_id", "greater than or equal to 1"),
        ("reports/x1", "path.report_id", "valid integer"),
    ],
)
def test_a_bad_parameter_is_named_with_what_is_wrong_and_nothing_is_recorded(
    store: Store, as_officer: Any, path: str, field: str, problem: str
) -> None:
    ready(store)
    email, password = officer(store, "NY")
    answer = as_officer((email, password)).get(path)
    assert answer.status_code == 422, answer.text
    assert answer.json()["fields"] == [field]
    assert answer.json()["detail"].startswith(f"{field}: "), answer.json()
    assert problem in answer.json()["detail"]
    assert _actions(store, f"user:{email}") == []


@pytest.mark.parametrize(
    ("path", "detail"),
    [
        ("reports?offset=100", "query.offset: is not a parameter of this call (it takes after, limit)"),
        ("reports?limit=1&limit=2", "query.limit: is given 2 times; give it once"),
        ("reports?Limit=5", "query.Limit: is not a parameter"),
        ("reports/1?jurisdiction=CA", "query.jurisdiction: is not a parameter of this call (it takes none)"),
    ],
)
def test_a_parameter_the_call_does_not_take_is_refused_not_dropped(
    store: Store, filed: dict[str, int], as_officer: Any, live: LiveServer, path: str, detail: str
) -> None:
    email, password = officer(store, "NY")
    answer = as_officer((email, password)).get(path)
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"].startswith(detail), answer.json()
    assert _actions(store, f"user:{email}") == []
    assert httpx.get(f"{live.url}/api/v1/agency/{path}", timeout=30).status_code == 401  # who asks comes first
