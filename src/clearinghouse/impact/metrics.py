"""The figures of the state sheets, counted by SQL from the records (definitions: docs/metrics.md).

Every function here only reads. A figure is never stored or adjusted: it is what the records say.
A year is the calendar year in UTC: from 1 January 00:00 (included) to the next 1 January (excluded).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from clearinghouse.education.models import Professional
from clearinghouse.geo.models import Agency, AgencyKind, Jurisdiction
from clearinghouse.impact.figures import NationalFigures, StateFigures
from clearinghouse.missing.models import CaseCategory, MissingCase
from clearinghouse.response.models import Activation, ActivationKind, ActivationStatus
from clearinghouse.support.models import MentalHealthReferral, PeerSupportContact, Recipient, ReferralStatus
from clearinghouse.tipline.models import Release, Report, ReportFile, ReportStatus
from clearinghouse.trafficking.models import Engagement, EngagementStatus, TraffickingReport
from clearinghouse.victim_id.models import Identification, Submission, SubmissionStatus


def year_bounds(year: int) -> tuple[dt.datetime, dt.datetime]:
    """The half-open UTC interval [1 January year, 1 January year+1)."""
    return dt.datetime(year, 1, 1, tzinfo=dt.UTC), dt.datetime(year + 1, 1, 1, tzinfo=dt.UTC)


def _count(session: Session, query: sa.Select[Any]) -> int:
    return int(session.scalar(query) or 0)


def tipline_reports_made_available(session: Session, state: str, year: int) -> int:
    """Distinct reports whose first release to a law-enforcement agency of ``state`` fell in ``year``."""
    start, end = year_bounds(year)
    first = (
        sa.select(Release.report_id, sa.func.min(Release.released_at).label("first_release"))
        .where(Release.jurisdiction_code == state)
        .group_by(Release.report_id)
        .subquery()
    )
    query = sa.select(sa.func.count()).where(first.c.first_release >= start, first.c.first_release < end)
    return _count(session, query.select_from(first))


def vid_submissions_reviewed(session: Session, state: str, year: int) -> int:
    """Submissions from agencies of ``state`` whose review completed in ``year``."""
    start, end = year_bounds(year)
    query = (
        sa.select(sa.func.count())
        .select_from(Submission)
        .join(Agency, Agency.id == Submission.agency_id)
        .where(
            Agency.jurisdiction_code == state,
            Submission.status == SubmissionStatus.REVIEWED,
            Submission.review_completed_at >= start,
            Submission.review_completed_at < end,
        )
    )
    return _count(session, query)


def missing_cases_by_category(session: Session, year: int, state: str | None = None) -> dict[CaseCategory, int]:
    """Cases opened in ``year`` (for children missing from ``state``, or nationwide), by category."""
    start, end = year_bounds(year)
    query = (
        sa.select(MissingCase.category, sa.func.count())
        .where(MissingCase.opened_at >= start, MissingCase.opened_at < end)
        .group_by(MissingCase.category)
    )
    if state is not None:
        query = query.where(MissingCase.state_code == state)
    counts = {category: 0 for category in CaseCategory}
    for category, count in session.execute(query):
        counts[CaseCategory(category)] = int(count)
    return counts


def trafficking_engagements(session: Session, state: str, year: int) -> int:
    """Engagements started in ``year`` with social-service agencies of ``state``, cancelled ones excluded."""
    start, end = year_bounds(year)
    query = (
        sa.select(sa.func.count())
        .select_from(Engagement)
        .join(Agency, Agency.id == Engagement.agency_id)
        .where(
            Agency.jurisdiction_code == state,
            Agency.kind == AgencyKind.SOCIAL_SERVICES,
            Engagement.status != EngagementStatus.CANCELLED,
            Engagement.started_at >= start,
            Engagement.started_at < end,
        )
    )
    return _count(session, query)


def peer_support_recipients(session: Session, year: int, state: str | None = None) -> int:
    """Distinct survivors or families (of ``state``, or nationwide) with a peer-support contact in ``year``."""
    start, end = year_bounds(year)
    query = (
        sa.select(sa.func.count(sa.distinct(PeerSupportContact.recipient_id)))
        .select_from(PeerSupportContact)
        .join(Recipient, Recipient.id == PeerSupportContact.recipient_id)
        .where(PeerSupportContact.contact_at >= start, PeerSupportContact.contact_at < end)
    )
    if state is not None:
        query = query.where(Recipient.state_code == state)
    return _count(session, query)


def mental_health_connections(session: Session, state: str, year: int) -> int:
    """Distinct survivors or families of ``state`` connected to a mental-health professional in ``year``."""
    start, end = year_bounds(year)
    query = (
        sa.select(sa.func.count(sa.distinct(MentalHealthReferral.recipient_id)))
        .select_from(MentalHealthReferral)
        .join(Recipient, Recipient.id == MentalHealthReferral.recipient_id)
        .where(
            Recipient.state_code == state,
            MentalHealthReferral.status == ReferralStatus.CONNECTED,
            MentalHealthReferral.connected_at >= start,
            MentalHealthReferral.connected_at < end,
        )
    )
    return _count(session, query)


def activated_cases(session: Session, year: int, kind: ActivationKind, state: str | None = None) -> int:
    """Distinct cases (of ``state``, or nationwide) with a non-cancelled activation of ``kind`` in ``year``."""
    start, end = year_bounds(year)
    query = sa.select(sa.func.count(sa.distinct(Activation.missing_case_id))).where(
        Activation.kind == kind,
        Activation.status != ActivationStatus.CANCELLED,
        Activation.activated_at >= start,
        Activation.activated_at < end,
    )
    if state is not None:
        query = query.where(Activation.state_code == state)
    return _count(session, query)


def critical_activations(session: Session, year: int) -> int:
    """Non-cancelled activations on critical incidents in ``year``, nationwide (each activation counts)."""
    start, end = year_bounds(year)
    query = sa.select(sa.func.count()).where(
        Activation.kind == ActivationKind.CRITICAL,
        Activation.status != ActivationStatus.CANCELLED,
        Activation.activated_at >= start,
        Activation.activated_at < end,
    )
    return _count(session, query.select_from(Activation))


def new_professionals(session: Session, state: str, year: int) -> int:
    """Professionals of ``state`` who registered on the education platform in ``year``."""
    start, end = year_bounds(year)
    query = sa.select(sa.func.count()).where(
        Professional.state_code == state,
        Professional.registered_at >= start,
        Professional.registered_at < end,
    )
    return _count(session, query.select_from(Professional))


def state_figures(session: Session, state: str, year: int) -> StateFigures:
    """Every state figure of the sheet for ``state`` (a jurisdiction code) and ``year``."""
    jurisdiction = session.get(Jurisdiction, state)
    if jurisdiction is None:
        raise LookupError(f"jurisdiction {state!r} is not in the store")
    missing = missing_cases_by_category(session, year, state)
    return StateFigures(
        state=state,
        state_name=jurisdiction.name,
        year=year,
        tipline_reports_made_available=tipline_reports_made_available(session, state, year),
        vid_submissions_reviewed=vid_submissions_reviewed(session, state, year),
        missing_social_services=missing[CaseCategory.SOCIAL_SERVICES],
        missing_other=missing[CaseCategory.OTHER],
        missing_hhs_orr=missing[CaseCategory.HHS_ORR],
        trafficking_engagements=trafficking_engagements(session, state, year),
        peer_support=peer_support_recipients(session, year, state),
        mental_health_connections=mental_health_connections(session, state, year),
        rapid_response_cases=activated_cases(session, year, ActivationKind.CRITICAL, state),
        new_professionals=new_professionals(session, state, year),
    )


def whole_percent(part: int, whole: int) -> int:
    """``part`` of ``whole`` in whole per cent, halves rounded up; 0 when ``whole`` is 0."""
    if whole == 0:
        return 0
    return (200 * part + whole) // (2 * whole)


def national_figures(session: Session, year: int) -> NationalFigures:
    """The national lines the sheet quotes, aggregated over the same records."""
    start, end = year_bounds(year)
    received = (Report.received_at >= start) & (Report.received_at < end) & (Report.status == ReportStatus.FINISHED)
    reports = _count(session, sa.select(sa.func.count()).select_from(Report).where(received))
    files = _count(
        session,
        sa.select(sa.func.count())
        .select_from(ReportFile)
        .join(Report, Report.id == ReportFile.report_id)
        .where(received),
    )
    identified = _count(
        session,
        sa.select(sa.func.count()).select_from(Identification).where(Identification.identified_at < end),
    )
    missing = missing_cases_by_category(session, year)
    social_services = missing[CaseCategory.SOCIAL_SERVICES]
    likely_trafficking = _count(
        session,
        sa.select(sa.func.count())
        .select_from(MissingCase)
        .where(
            MissingCase.category == CaseCategory.SOCIAL_SERVICES,
            MissingCase.likely_trafficking.is_(True),
            MissingCase.opened_at >= start,
            MissingCase.opened_at < end,
        ),
    )
    trafficking_reports = _count(
        session,
        sa.select(sa.func.count())
        .select_from(TraffickingReport)
        .where(TraffickingReport.received_at >= start, TraffickingReport.received_at < end),
    )
    registered = _count(
        session, sa.select(sa.func.count()).select_from(Professional).where(Professional.registered_at < end)
    )
    return NationalFigures(
        year=year,
        tipline_reports_received=reports,
        tipline_files_received=files,
        children_identified_to_date=identified,
        missing_cases=sum(missing.values()),
        missing_from_social_services=social_services,
        likely_trafficking_percent=whole_percent(likely_trafficking, social_services),
        trafficking_reports=trafficking_reports,
        peer_support_recipients=peer_support_recipients(session, year),
        registered_professionals=registered,
        rapid_response_activations=critical_activations(session, year),
        long_term_cases_assisted=activated_cases(session, year, ActivationKind.LONG_TERM),
    )
