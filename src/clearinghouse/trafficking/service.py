"""Trafficking reports and the recovery-service engagements of social-service agencies on them.

Recording a report is idempotent on its ``reference``: the same report sent again returns the stored one, and
a different report under a reference already used is a Conflict. An engagement is active until completed or
cancelled; a cancelled engagement stays stored (with its end time) but is not counted on the state sheet.

Every function adds to the caller's unit of work and never commits; on any error nothing has been added.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Sequence
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.orm import Session

from clearinghouse.access import audit
from clearinghouse.errors import Conflict, InputError, NotFound, require_aware, require_order, require_past
from clearinghouse.geo.models import Agency, AgencyKind
from clearinghouse.missing import service as missing_service
from clearinghouse.tipline.models import Report as TiplineReport
from clearinghouse.trafficking.models import (
    Engagement,
    EngagementStatus,
    TraffickingReport,
    TraffickingSource,
)
from clearinghouse.trafficking.schemas import EngagementCreate, TraffickingReportCreate
from clearinghouse.validation import check_page as _check_page
from clearinghouse.validation import coerce_enum as _enum
from clearinghouse.validation import require_row
from clearinghouse.validation import state_code as _state_code

REPORT = "trafficking_report"
ENGAGEMENT = "recovery_engagement"
MAX_PAGE = 1000

E = TypeVar("E", bound=enum.Enum)


def record_report(*, session: Session, data: TraffickingReportCreate, actor: str = audit.SYSTEM) -> TraffickingReport:
    """Store a trafficking report, or return the stored one when the same report is sent again."""
    received_at = require_past("received_at", data.received_at)
    state_code = None if data.state_code is None else _state_code(session, "state_code", data.state_code)
    if data.tipline_report_id is not None:
        # Only the key is read: the tipline's table belongs to the tipline, this just checks the report exists.
        query = sa.select(TiplineReport.id).where(TiplineReport.id == data.tipline_report_id)
        if session.scalar(query) is None:
            raise InputError("tipline_report_id", "no tipline report has this id", data.tipline_report_id)
    if data.missing_case_id is not None:
        try:
            case = missing_service.get(session=session, case_id=data.missing_case_id)
        except NotFound:
            raise InputError("missing_case_id", "no missing case has this id", data.missing_case_id) from None
        state_code = state_code or case.state_code

    wanted: dict[str, Any] = {
        "source": data.source,
        "state_code": state_code,
        "received_at": received_at,
        "tipline_report_id": data.tipline_report_id,
        "missing_case_id": data.missing_case_id,
    }
    existing = session.scalars(
        sa.select(TraffickingReport).where(TraffickingReport.reference == data.reference)
    ).first()
    if existing is not None:
        differing = sorted(name for name, value in wanted.items() if getattr(existing, name) != value)
        if differing:
            names = ", ".join(differing)
            raise Conflict(f"trafficking report {data.reference!r} is already recorded with a different {names}")
        return existing

    report = TraffickingReport(reference=data.reference, **wanted)
    session.add(report)
    session.flush()
    audit.record(
        session=session,
        actor=actor,
        action="recorded",
        subject_type=REPORT,
        subject_id=report.id,
        detail={"reference": report.reference, "source": report.source.value, "state_code": state_code},
    )
    return report


def get_report(*, session: Session, report_id: int) -> TraffickingReport:
    """The trafficking report with this id."""
    report = require_row(session, TraffickingReport, report_id, "trafficking report")
    return report


def get_report_by_reference(*, session: Session, reference: str) -> TraffickingReport:
    """The trafficking report recorded under this reference."""
    query = sa.select(TraffickingReport).where(TraffickingReport.reference == reference.strip())
    report = session.scalars(query).first()
    if report is None:
        raise NotFound("trafficking report", reference)
    return report


def list_reports(
    *,
    session: Session,
    state_code: str | None = None,
    source: TraffickingSource | str | None = None,
    received_from: dt.datetime | None = None,
    received_to: dt.datetime | None = None,
    limit: int = 100,
    offset: int = 0,
) -> Sequence[TraffickingReport]:
    """Trafficking reports, filtered; ``received_from`` inclusive, ``received_to`` exclusive; oldest first."""
    _check_page(limit, offset)
    query = sa.select(TraffickingReport)
    if state_code is not None:
        query = query.where(TraffickingReport.state_code == _state_code(session, "state_code", state_code))
    if source is not None:
        query = query.where(TraffickingReport.source == _enum("source", TraffickingSource, source))
    if received_from is not None:
        query = query.where(TraffickingReport.received_at >= require_aware("received_from", received_from))
    if received_to is not None:
        query = query.where(TraffickingReport.received_at < require_aware("received_to", received_to))
    query = query.order_by(TraffickingReport.received_at, TraffickingReport.id).limit(limit).offset(offset)
    return session.scalars(query).all()


def start_engagement(*, session: Session, data: EngagementCreate, actor: str) -> Engagement:
    """Start recovery services with a social-service agency on a trafficking report."""
    started_at = require_past("started_at", data.started_at)
    if session.get(TraffickingReport, data.trafficking_report_id) is None:
        raise InputError("trafficking_report_id", "no trafficking report has this id", data.trafficking_report_id)
    agency = session.get(Agency, data.agency_id)
    if agency is None:
        raise InputError("agency_id", "no agency has this id", data.agency_id)
    if agency.kind is not AgencyKind.SOCIAL_SERVICES:
        raise InputError(
            "agency_id",
            f"expected a social-services agency, {agency.name!r} is {agency.kind.value}",
            agency.id,
        )
    if not agency.active:
        raise InputError("agency_id", f"agency {agency.name!r} is inactive", agency.id)
    already = session.scalars(
        sa.select(Engagement.id).where(
            Engagement.trafficking_report_id == data.trafficking_report_id,
            Engagement.agency_id == agency.id,
            Engagement.service == data.service,
            Engagement.status == EngagementStatus.ACTIVE,
        )
    ).first()
    if already is not None:
        raise Conflict(f"engagement {already} already gives {data.service.value} with this agency on this report")

    engagement = Engagement(
        trafficking_report_id=data.trafficking_report_id,
        agency_id=agency.id,
        service=data.service,
        status=EngagementStatus.ACTIVE,
        started_at=started_at,
    )
    session.add(engagement)
    session.flush()
    detail = {"agency_id": agency.id, "service": data.service.value, "started_at": started_at.isoformat()}
    audit.record(
        session=session,
        actor=actor,
        action="started",
        subject_type=ENGAGEMENT,
        subject_id=engagement.id,
        detail=detail,
    )
    return engagement


def get_engagement(*, session: Session, engagement_id: int) -> Engagement:
    """The engagement with this id."""
    engagement = require_row(session, Engagement, engagement_id, "engagement")
    return engagement


def _end(
    session: Session,
    engagement_id: int,
    at: dt.datetime,
    actor: str,
    status: EngagementStatus,
    reason: str | None,
) -> Engagement:
    at = require_past("at", at)
    # Row lock on PostgreSQL so two concurrent endings cannot both pass the status check.
    engagement = require_row(session, Engagement, engagement_id, "engagement", lock=True)
    if engagement.status is not EngagementStatus.ACTIVE:
        raise Conflict(f"engagement {engagement.id} is already {engagement.status.value}")
    require_order("started_at", engagement.started_at, "at", at)
    engagement.status = status
    engagement.ended_at = at
    detail = {"at": at.isoformat(), "reason": reason}
    audit.record(
        session=session,
        actor=actor,
        action=status.value,
        subject_type=ENGAGEMENT,
        subject_id=engagement.id,
        detail=detail,
    )
    return engagement


def complete_engagement(*, session: Session, engagement_id: int, at: dt.datetime, actor: str) -> Engagement:
    """Mark an active engagement completed at ``at``."""
    return _end(session, engagement_id, at, actor, EngagementStatus.COMPLETED, None)


def cancel_engagement(
    *, session: Session, engagement_id: int, at: dt.datetime, actor: str, reason: str | None = None
) -> Engagement:
    """Cancel an active engagement; it stays stored, with status cancelled, and is no longer counted."""
    return _end(session, engagement_id, at, actor, EngagementStatus.CANCELLED, reason)


def list_engagements(
    *,
    session: Session,
    agency_id: int | None = None,
    state_code: str | None = None,
    status: EngagementStatus | str | None = None,
    trafficking_report_id: int | None = None,
    started_from: dt.datetime | None = None,
    started_to: dt.datetime | None = None,
    limit: int = 100,
    offset: int = 0,
) -> Sequence[Engagement]:
    """Engagements, filtered (``state_code`` is the agency's state); ``started_to`` is exclusive."""
    _check_page(limit, offset)
    query = sa.select(Engagement)
    if agency_id is not None:
        query = query.where(Engagement.agency_id == agency_id)
    if state_code is not None:
        code = _state_code(session, "state_code", state_code)
        query = query.join(Agency, Agency.id == Engagement.agency_id).where(Agency.jurisdiction_code == code)
    if status is not None:
        query = query.where(Engagement.status == _enum("status", EngagementStatus, status))
    if trafficking_report_id is not None:
        query = query.where(Engagement.trafficking_report_id == trafficking_report_id)
    if started_from is not None:
        query = query.where(Engagement.started_at >= require_aware("started_from", started_from))
    if started_to is not None:
        query = query.where(Engagement.started_at < require_aware("started_to", started_to))
    query = query.order_by(Engagement.started_at, Engagement.id).limit(limit).offset(offset)
    return session.scalars(query).all()
