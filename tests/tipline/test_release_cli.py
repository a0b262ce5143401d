"""`clearinghouse tipline release` and `tipline show` refusing what they cannot do, each in one line on standard
error with nothing stored: reports not ready for law enforcement, agencies that cannot receive them, a reason or
a reader that could not be shown, ids no store holds."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner, Result

from clearinghouse.access.models import AuditEvent
from clearinghouse.cli import app as cli_app
from clearinghouse.db.engine import Store
from clearinghouse.geo.models import Agency, AgencyKind
from clearinghouse.tipline.models import IncidentType, Release, ReportSource
from clearinghouse.tipline.onepass import Processing
from clearinghouse.tipline.service import open_report, retract_report
from tests.refusals import refused
from tests.tipline.agency_helpers import agency_of, set_agency_active
from tests.tipline.bulk_helpers import doc, image, line, ready, report_by_ref, send

runner = CliRunner()


@pytest.fixture
def reports(store: Store) -> dict[str, int]:
    """A report processed and released in NY, one still queued for processing, one open and one retracted."""
    platform = ready(store)
    send(store, platform, [line("done", doc(state="NY"), files=[image(1)])], processing=Processing())
    send(store, platform, [line("queued", doc(state="NY"), files=[image(2)])])
    with store.unit_of_work() as session:
        made = {
            state: open_report(
                session=session, incident_type=IncidentType.CHILD_PORNOGRAPHY, source=ReportSource.PUBLIC,
                body={}, actor="test",
            ).id
            for state in ("open", "retracted")
        }  # fmt: skip
        retract_report(session=session, report_id=made["retracted"], actor="test")
    made.update({ref: report_by_ref(store, platform, ref).id for ref in ("done", "queued")})
    return made


def _run(store: Store, *arguments: str) -> Result:
    return runner.invoke(cli_app, [*arguments, "--url", store.url])


def _stored(store: Store) -> tuple[Any, ...]:
    """The releases and the audit events written by the command line."""
    with store.session() as session:
        releases = session.scalars(sa.select(Release.id).order_by(Release.id)).all()
        events = session.scalars(sa.select(AuditEvent.action).where(AuditEvent.actor.like("cli%"))).all()
    return tuple(releases), tuple(events)


def test_only_a_processed_report_is_released(store: Store, reports: dict[str, int]) -> None:
    before = _stored(store)
    for name, fragments in [
        ("queued", ("still queued for processing",)),
        ("open", ("is open", "only finished reports")),
        ("retracted", ("is retracted",)),
    ]:
        refused(_run(store, "tipline", "release", str(reports[name]), "--to", "CA", "--reason", "moved"), 1, *fragments)
    assert _stored(store) == before


def test_each_agency_is_released_to_once_and_an_inactive_one_never(store: Store, reports: dict[str, int]) -> None:
    ca = agency_of(store, "CA")
    twice = _run(store, "tipline", "release", str(reports["done"]), "--to", "CA", "--reason", "moved",
                 "--agency", str(ca), "--agency", str(ca))  # fmt: skip
    assert twice.exit_code == 0, twice.output
    with store.session() as session:
        given = session.scalars(sa.select(Release.agency_id).where(Release.jurisdiction_code == "CA")).all()
    assert given == [ca]
    tx = agency_of(store, "TX")
    set_agency_active(store, tx, False)
    before = _stored(store)
    line_ = refused(
        _run(store, "tipline", "release", str(reports["done"]), "--to", "TX", "--reason", "moved", "--agency", str(tx)),
        1,
        "not active",
    )
    with store.session() as session:
        inactive = session.get(Agency, tx)
    assert inactive is not None
    assert inactive.name in line_
    assert _stored(store) == before


def test_a_jurisdiction_without_an_active_law_enforcement_agency_is_named(
    store: Store, reports: dict[str, int]
) -> None:
    with store.unit_of_work() as session:
        law = [a.id for a in session.scalars(sa.select(Agency).where(Agency.jurisdiction_code == "VT"))
               if a.kind is not AgencyKind.SOCIAL_SERVICES]  # fmt: skip
    for agency_id in law:
        set_agency_active(store, agency_id, False)
    before = _stored(store)
    refused(
        _run(store, "tipline", "release", str(reports["done"]), "--to", "VT", "--reason", "moved"),
        1,
        "no active law-enforcement agency serves VT",
    )
    assert _stored(store) == before


@pytest.mark.parametrize(
    ("reason", "fragment"),
    [(" ", "reason: must be 1 to 200 characters"), ("x" * 201, "reason: must be 1 to 200 characters"),
     ("moved\nlater", "reason: must not contain control or invisible characters (U+000A found)"),
     ("moved \x1b[31m", "U+001B")],
)  # fmt: skip
def test_a_reason_that_could_not_be_shown_is_refused(
    store: Store, reports: dict[str, int], reason: str, fragment: str
) -> None:
    before = _stored(store)
    refused(_run(store, "tipline", "release", str(reports["done"]), "--to", "CA", "--reason", reason), 1, fragment)
    assert _stored(store) == before


@pytest.mark.parametrize("command", ["release", "show"])
@pytest.mark.parametrize(
    ("by", "fragment"),
    [
        ("", "by: must be 1 to"),
        (" ", "by: must be 1 to"),
        ("a\tb", "by: must not contain"),
        ("x" * 200, "by: must be 1 to"),
    ],
)
def test_the_reader_or_releaser_must_be_named(
    store: Store, reports: dict[str, int], command: str, by: str, fragment: str
) -> None:
    before = _stored(store)
    more = ["--to", "CA", "--reason", "moved"] if command == "release" else []
    refused(_run(store, "tipline", command, str(reports["done"]), *more, "--by", by), 1, fragment)
    assert _stored(store) == before


@pytest.mark.parametrize(
    "arguments",
    [["show", str(2**63)], ["release", str(2**70), "--to", "CA", "--reason", "x"],
     ["release", "1", "--to", "CA", "--reason", "x", "--agency", str(2**63)]],
)  # fmt: skip
def test_an_id_beyond_any_store_is_a_usage_error(store: Store, reports: dict[str, int], arguments: list[str]) -> None:
    before = _stored(store)
    result = _run(store, "tipline", *arguments)
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    assert result.stderr.startswith("error: "), result.stderr
    assert "9223372036854775807" in result.stderr
    assert _stored(store) == before
