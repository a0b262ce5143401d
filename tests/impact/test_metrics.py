"""The sheet's figures, counted from records made through the services, on SQLite and on PostgreSQL.

Each record below is placed to test one clause of docs/metrics.md: first release only, cancelled work left
out, other years and other states left out, people counted once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from clearinghouse.db.engine import Store
from clearinghouse.education import service as education
from clearinghouse.education.schemas import ProfessionalCreate
from clearinghouse.geo.agencies import seed_directory
from clearinghouse.geo.models import Agency, AgencyKind
from clearinghouse.impact.metrics import national_figures, state_figures, whole_percent
from clearinghouse.missing import service as missing
from clearinghouse.missing.models import CaseCategory, CaseType
from clearinghouse.missing.schemas import MissingCaseCreate
from clearinghouse.response import service as response
from clearinghouse.response.models import ActivationKind
from clearinghouse.response.schemas import ActivationCreate
from clearinghouse.support import service as support
from clearinghouse.support.models import ContactChannel, RecipientKind
from clearinghouse.support.schemas import PeerContactCreate, RecipientCreate, ReferralCreate
from clearinghouse.tipline import availability
from clearinghouse.tipline import service as tipline
from clearinghouse.tipline.models import IncidentType, ReportSource
from clearinghouse.trafficking import service as trafficking
from clearinghouse.trafficking.models import EngagementService, TraffickingSource
from clearinghouse.trafficking.schemas import EngagementCreate, TraffickingReportCreate

Y = 2023


def at(month: int, day: int = 1, year: int = Y) -> dt.datetime:
    return dt.datetime(year, month, day, 12, tzinfo=dt.UTC)


def agency(session: Session, state: str, kind: AgencyKind) -> Agency:
    found = session.scalars(sa.select(Agency).where(Agency.jurisdiction_code == state, Agency.kind == kind)).first()
    assert found is not None, f"no {kind} agency in {state}"
    return found


def released_report(session: Session, received: dt.datetime, releases: list[tuple[str, dt.datetime]]) -> int:
    report = tipline.open_report(
        session=session,
        incident_type=IncidentType.CHILD_PORNOGRAPHY,
        source=ReportSource.PLATFORM,
        body={},
        actor="test",
        at=received,
    )
    finished = tipline.finish_report(session=session, report_id=report.id, actor="test", at=received)
    finished.processed_at = received  # as if the pipeline had located it: only a processed report is released
    for state, when in releases:
        availability.release_to_jurisdiction(
            session=session,
            report_id=report.id,
            jurisdiction_code=state,
            agencies=[agency(session, state, AgencyKind.ICAC_TASK_FORCE)],
            actor="test",
            reason="test",
            at=when,
        )
    return report.id


def case(session: Session, state: str, category: CaseCategory, opened: dt.datetime, name: str) -> int:
    data = MissingCaseCreate(
        state_code=state,
        category=category,
        case_type=CaseType.ENDANGERED_RUNAWAY,
        child_given_name=name,
        child_family_name="Example",
        child_birth_date=dt.date(opened.year - 15, 3, 1),
        missing_since=opened - dt.timedelta(hours=5),
        opened_at=opened,
        reported_by="social_services",
    )
    return missing.open_case(session=session, data=data, actor="test").case.id


Builder = Callable[[Session], None]


def build(session: Session) -> None:
    seed_directory(session)
    # Tipline: first release in Y counts; a second release to NC does not count again; a report first
    # released to NC in the year before does not count; a report released to NY first then NC counts for both.
    released_report(session, at(3), [("NC", at(3, 2)), ("NC", at(5))])
    released_report(session, at(12, 20, Y - 1), [("NC", at(12, 21, Y - 1)), ("NC", at(2))])
    released_report(session, at(6), [("NY", at(6, 2)), ("NC", at(7))])
    open_only = tipline.open_report(
        session=session,
        incident_type=IncidentType.CHILD_PORNOGRAPHY,
        source=ReportSource.PLATFORM,
        body={},
        actor="test",
        at=at(8),
    )
    tipline.retract_report(session=session, report_id=open_only.id, actor="test", at=at(8))
    # Missing: two NC cases in Y (one social services), one NC case last year, one NY case.
    first = case(session, "NC", CaseCategory.SOCIAL_SERVICES, at(2), "Ann")
    case(session, "NC", CaseCategory.HHS_ORR, at(4), "Bea")
    old = case(session, "NC", CaseCategory.OTHER, at(12, 5, Y - 1), "Cid")
    case(session, "NY", CaseCategory.OTHER, at(4), "Dee")
    missing.add_indicator(session=session, case_id=first, indicator="advertised_online", actor="test")
    # Rapid response: one NC case activated twice (one case), one cancelled activation, one long-term.
    for when in (at(2, 3), at(2, 9)):
        deployed = response.activate(
            session=session,
            data=ActivationCreate(missing_case_id=first, kind=ActivationKind.CRITICAL, activated_at=when),
            actor="test",
        )
        response.close_activation(
            session=session, activation_id=deployed.id, at=when + dt.timedelta(days=2), actor="test"
        )
    cancelled = response.activate(
        session=session,
        data=ActivationCreate(missing_case_id=old, kind=ActivationKind.CRITICAL, activated_at=at(3)),
        actor="test",
    )
    response.cancel_activation(session=session, activation_id=cancelled.id, at=at(3, 2), actor="test")
    response.activate(
        session=session,
        data=ActivationCreate(missing_case_id=old, kind=ActivationKind.LONG_TERM, activated_at=at(9)),
        actor="test",
    )
    # Trafficking: two engagements with NC social services, one cancelled, one last year.
    report = trafficking.record_report(
        session=session,
        data=TraffickingReportCreate(
            reference="TR-1", source=TraffickingSource.HOTLINE, state_code="NC", received_at=at(1, 5)
        ),
    )
    services = agency(session, "NC", AgencyKind.SOCIAL_SERVICES)
    for started, cancel, kind in zip((at(2), at(3), at(4)), (False, False, True), EngagementService, strict=True):
        engagement = trafficking.start_engagement(
            session=session,
            data=EngagementCreate(
                trafficking_report_id=report.id,
                agency_id=services.id,
                service=kind,
                started_at=started,
            ),
            actor="test",
        )
        if cancel:
            trafficking.cancel_engagement(session=session, engagement_id=engagement.id, at=at(4, 2), actor="test")
    # Support: one family with three contacts and two connected referrals counts once; a declined referral
    # and a contact last year do not count.
    family = support.register_recipient(
        session=session, data=RecipientCreate(kind=RecipientKind.FAMILY, display_name="Example family", state_code="NC")
    )
    other = support.register_recipient(
        session=session,
        data=RecipientCreate(kind=RecipientKind.SURVIVOR, display_name="Example survivor", state_code="NC"),
    )
    for month in (2, 3, 4):
        support.record_peer_contact(
            session=session,
            data=PeerContactCreate(
                recipient_id=family.id,
                volunteer_name="Peer",
                channel=ContactChannel.PHONE,
                contact_at=at(month),
                minutes=20,
            ),
        )
    support.record_peer_contact(
        session=session,
        data=PeerContactCreate(
            recipient_id=other.id,
            volunteer_name="Peer",
            channel=ContactChannel.PHONE,
            contact_at=at(11, 1, Y - 1),
            minutes=20,
        ),
    )
    for month in (5, 6):
        referral = support.refer(
            session=session, data=ReferralCreate(recipient_id=family.id, provider_name="Clinic", referred_at=at(month))
        )
        support.mark_connected(session=session, referral_id=referral.id, at=at(month, 10), actor="test")
    declined = support.refer(
        session=session, data=ReferralCreate(recipient_id=other.id, provider_name="Clinic", referred_at=at(7))
    )
    support.decline(session=session, referral_id=declined.id, at=at(7, 3), actor="test")
    # Education: one NC registration in Y, repeated; one last year.
    for email, when in (("a@example.org", at(3)), ("a@example.org", at(3)), ("b@example.org", at(6, 1, Y - 1))):
        education.register(
            session=session,
            data=ProfessionalCreate(
                email=email,
                full_name="Pro",
                profession="law_enforcement",
                organization="Org",
                state_code="NC",
                registered_at=when,
            ),
        )


def test_state_and_national_figures_follow_their_definitions(any_store: Store) -> None:
    with any_store.unit_of_work() as session:
        build(session)
    with any_store.unit_of_work() as session:
        nc = state_figures(session, "NC", Y)
        ny = state_figures(session, "NY", Y)
        national = national_figures(session, Y)
    assert nc.tipline_reports_made_available == 2
    assert ny.tipline_reports_made_available == 1
    assert (nc.missing_social_services, nc.missing_other, nc.missing_hhs_orr, nc.missing_total) == (1, 0, 1, 2)
    assert nc.rapid_response_cases == 1
    assert nc.trafficking_engagements == 2
    assert nc.peer_support == 1
    assert nc.mental_health_connections == 1
    assert nc.new_professionals == 1
    assert national.missing_cases == 3
    assert national.missing_from_social_services == 1
    assert national.likely_trafficking_percent == 100
    assert national.rapid_response_activations == 2
    assert national.long_term_cases_assisted == 1
    assert national.registered_professionals == 2
    assert national.tipline_reports_received == 2  # the retracted draft and last year's report are not counted
    assert national.trafficking_reports == 1


@pytest.mark.parametrize(
    ("part", "whole", "expected"), [(0, 0, 0), (19, 100, 19), (1, 8, 13), (1, 200, 1), (1, 201, 0)]
)
def test_whole_percent_rounds_halves_up(part: int, whole: int, expected: int) -> None:
    assert whole_percent(part, whole) == expected


def test_every_sheet_figure_is_defined_in_the_metrics_doc() -> None:
    from pathlib import Path

    from clearinghouse.impact.figures import STATE_FIGURE_NAMES, NationalFigures

    doc = (Path(__file__).resolve().parents[2] / "docs" / "metrics.md").read_text()
    names = [*STATE_FIGURE_NAMES, *(n for n in NationalFigures.model_fields if n != "year")]
    undocumented = [name for name in names if f"`{name}`" not in doc]
    assert undocumented == []
