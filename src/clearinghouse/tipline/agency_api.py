"""Law enforcement's view of the tipline: the reports made available to an officer's jurisdiction.

An officer signs in with HTTP Basic (e-mail address and password of a `law_enforcement` user, made with
`clearinghouse users add`). `GET /api/v1/agency/reports` lists, in the order they were released, the reports made
available to the jurisdiction of the officer's agency; `after` continues from the last release id seen, so an
agency polling for new work gets exactly what is new. `GET /api/v1/agency/reports/{id}` answers one report in
full: what the platform reported, its files' hashes and match, where it was located and why, its priority, its
bundle. A report not made available to the officer's jurisdiction is answered 404, as if it did not exist.
The user and their agency are read from the store on every request, so a deactivated user, a replaced password
or an inactive agency is refused at once. Every read is recorded in the audit log, refused ones included, and so
is every listing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from clearinghouse.access import audit
from clearinghouse.access.models import PlatformAccount, Role, User
from clearinghouse.errors import NotFound
from clearinghouse.geo.models import Agency, AgencyKind
from clearinghouse.tipline import availability
from clearinghouse.tipline.models import Bundle, Release, Report, ReportFile
from clearinghouse.web.auth import Unauthenticated, UserPrincipal
from clearinghouse.web.deps import ContextDep, SessionDep, UserDep
from clearinghouse.web.errors import problem

router = APIRouter(prefix="/api/v1/agency", tags=["Law enforcement"])

LIST_LIMIT = 500
"""Most reports one listing answers; continue with `after`."""
MEMBERS_SHOWN = 1000
"""Most bundle members a report's answer lists (the count is always complete)."""


class ReportCore(BaseModel):
    """What every view of a report shows first."""

    report_id: int
    received_at: dt.datetime | None
    incident_type: str
    priority: int | None = Field(description="1 (urgent) to 4 (low); see docs/intake.md, Priority.")
    classification: str | None
    country_code: str | None
    state_code: str | None
    location_confidence: float | None
    file_count: int
    platform: str | None = Field(description="The reporting platform; none for a report from the public.")
    bundle_id: int | None
    bundle_size: int | None = Field(description="Reports handled through this one, itself included, if a lead.")


class ReportSummary(ReportCore):
    """One report made available to the officer's jurisdiction, as listed."""

    release_id: int = Field(description="The release that made it available here; pass the last one as `after`.")
    released_at: dt.datetime


class ReportList(BaseModel):
    """A page of the reports made available to one jurisdiction."""

    jurisdiction: str
    agency: str
    reports: list[ReportSummary]
    next_after: int = Field(description="The `after` of the next page (the same as given when nothing is new).")


class FileOut(BaseModel):
    """A file of a report: its hashes and description (the content is never kept)."""

    file_ref: str
    kind: str
    filename: str | None
    size: int | None
    md5: str | None
    sha1: str | None
    sha256: str | None
    pdq: str | None
    pdq_quality: int | None
    previously_seen: bool | None = Field(description="In an earlier report or a known-content bank.")
    details: dict[str, Any] | None


class ReleaseOut(BaseModel):
    """A release of the report to an agency of the officer's jurisdiction."""

    agency: str
    released_at: dt.datetime
    reason: str


class BundleMember(BaseModel):
    """Another report of the bundle, handled through its lead."""

    report_id: int
    received_at: dt.datetime | None
    platform_report_id: str | None
    country_code: str | None
    state_code: str | None


class BundleOut(BaseModel):
    """The bundle the report belongs to."""

    bundle_id: int
    kind: str
    reason: str | None
    lead_report_id: int
    report_count: int
    members: list[BundleMember] = Field(description="The other reports, when this is the lead (at most 1,000).")


class ReportFull(ReportCore):
    """One report in full."""

    status: str
    platform_report_id: str | None
    incident_at: dt.datetime | None
    escalation_reason: str | None
    annotations: list[str]
    location_rule: str | None
    location_evidence: list[dict[str, Any]]
    report: dict[str, Any] = Field(description="What the reporter sent, in the intake model (docs/intake.md).")
    files: list[FileOut]
    releases: list[ReleaseOut] = Field(description="Its releases (to law enforcement: those to its jurisdiction).")
    bundle: BundleOut | None


class ReportDetail(ReportFull):
    """One report in full, as law enforcement receives it."""

    release_id: int = Field(description="The release that made it available here (the lead's, for a member).")
    released_at: dt.datetime


@dataclass(frozen=True)
class Officer:
    """An officer's agency as the store has it at the request."""

    agency_id: int
    agency: str
    jurisdiction: str


@dataclass(frozen=True)
class Refused:
    """Why a signed-in user is shown nothing: the audit log's reason and the 403 answer's title and detail."""

    reason: str
    title: str
    detail: str
    agency_id: int | None

    def answer(self) -> Response:
        return problem(403, self.title, self.detail)


_NOT_LAW_ENFORCEMENT = "Only law-enforcement users see the reports made available to their jurisdiction."


def _officer(session: Session, user: UserPrincipal) -> Officer | Refused:
    """The officer's agency, or why the user sees nothing: not law enforcement, or an inactive agency.

    Verified credentials are cached for minutes (`web.auth`); the user's and the agency's standing are read here
    on every request instead, so deactivating either, or replacing the password, shuts this view at once (a
    deactivated user or a replaced password: 401)."""
    query = (
        sa.select(User.active, User.password_hash, User.role)
        .add_columns(Agency.id, Agency.name, Agency.jurisdiction_code, Agency.kind, Agency.active)
        .outerjoin(Agency, Agency.id == User.agency_id)
        .where(User.id == user.id)
    )
    row = session.execute(query).first()
    if row is None or not row[0] or row[1] != user.password_hash:
        raise Unauthenticated
    _, _, role, agency_id, name, jurisdiction, kind, active = row
    if Role(role) is not Role.LAW_ENFORCEMENT or agency_id is None or not AgencyKind(kind).is_law_enforcement:
        return Refused("not law enforcement", "Not law enforcement", _NOT_LAW_ENFORCEMENT, agency_id)
    if not active:
        detail = f"{name} is not active: its officers see no reports until it is made active again."
        return Refused("agency not active", "Agency not active", detail, agency_id)
    return Officer(agency_id=agency_id, agency=name, jurisdiction=jurisdiction)


def _platform_names(session: Session, reports: list[Report]) -> dict[int, str]:
    ids = {r.platform_id for r in reports if r.platform_id is not None}
    if not ids:
        return {}
    query = sa.select(PlatformAccount.id, PlatformAccount.name).where(PlatformAccount.id.in_(ids))
    return {platform_id: name for platform_id, name in session.execute(query)}


def _bundle_sizes(session: Session, reports: list[Report]) -> dict[int, tuple[int, int]]:
    """Each bundle's (lead report id, report count), for the bundles of ``reports``."""
    ids = {r.bundle_id for r in reports if r.bundle_id is not None}
    if not ids:
        return {}
    query = sa.select(Bundle.id, Bundle.lead_report_id, Bundle.report_count).where(Bundle.id.in_(ids))
    return {bundle_id: (lead, count) for bundle_id, lead, count in session.execute(query)}


def _core(report: Report, platforms: dict[int, str], bundles: dict[int, tuple[int, int]]) -> dict[str, Any]:
    bundle = bundles.get(report.bundle_id) if report.bundle_id is not None else None
    return {
        "report_id": report.id,
        "received_at": report.received_at,
        "incident_type": report.incident_type.value,
        "priority": report.priority,
        "classification": report.classification.value if report.classification is not None else None,
        "country_code": report.country_code,
        "state_code": report.state_code,
        "location_confidence": report.location_confidence,
        "file_count": report.file_count,
        "platform": platforms.get(report.platform_id) if report.platform_id is not None else None,
        "bundle_id": report.bundle_id,
        "bundle_size": bundle[1] if bundle is not None and bundle[0] == report.id else None,
    }


def _only(*names: str) -> Any:
    """A dependency refusing (422, by name) a query parameter the call does not take, or one given twice: either
    would otherwise be dropped without a word (an `offset` answered with the first page, the first of two
    `limit`s ignored)."""
    takes = ", ".join(names) or "none"

    async def check(request: Request) -> None:
        given = request.query_params
        errors = [
            {"loc": ("query", key), "msg": f"is not a parameter of this call (it takes {takes})", "type": "unknown"}
            for key in given
            if key not in names
        ]
        errors += [
            {"loc": ("query", key), "msg": f"is given {count} times; give it once", "type": "repeated"}
            for key in names
            if (count := len(given.getlist(key))) > 1
        ]
        if errors:
            raise RequestValidationError(errors)

    return Depends(check)


def _json(model: BaseModel, status_code: int = 200) -> JSONResponse:
    return JSONResponse(model.model_dump(mode="json"), status_code=status_code)


@router.get("/reports", response_model=ReportList)
def list_made_available(
    user: UserDep,
    _known: Annotated[None, _only("after", "limit")],
    session: SessionDep,
    context: ContextDep,
    after: Annotated[int, Query(ge=0, le=2**63 - 1, description="Continue after this release id.")] = 0,
    limit: Annotated[int, Query(ge=1, le=LIST_LIMIT, description="Most reports to answer.")] = 100,
) -> Response:
    """The reports made available to your agency's jurisdiction, in the order they were released."""
    officer = _officer(session, user)
    if isinstance(officer, Refused):  # answered from a read, before the write turn
        return officer.answer()
    with context.writing(session):
        found = availability.made_available_to(
            session=session, jurisdiction_code=officer.jurisdiction, after=after, limit=limit
        )
        reports = [item.report for item in found]
        platforms = _platform_names(session, reports)
        bundles = _bundle_sizes(session, reports)
        summaries = [
            ReportSummary(**_core(i.report, platforms, bundles), release_id=i.release_id, released_at=i.released_at)
            for i in found
        ]
        if summaries:
            audit.record(
                session=session,
                actor=user.actor,
                action="reports.listed",
                subject_type="agency",
                subject_id=officer.agency_id,
                detail={"reports": [s.report_id for s in summaries]},
                at=context.clock(),
            )
    page = ReportList(
        jurisdiction=officer.jurisdiction,
        agency=officer.agency,
        reports=summaries,
        next_after=summaries[-1].release_id if summaries else after,
    )
    return _json(page)


def _files(session: Session, report_id: int) -> list[FileOut]:
    query = sa.select(ReportFile).where(ReportFile.report_id == report_id).order_by(ReportFile.id)
    return [
        FileOut(
            file_ref=f.file_ref,
            kind=f.kind.value,
            filename=f.filename,
            size=f.size,
            md5=f.md5,
            sha1=f.sha1,
            sha256=f.sha256,
            pdq=f.pdq,
            pdq_quality=f.pdq_quality,
            previously_seen=f.previously_seen,
            details=f.details,
        )
        for f in session.scalars(query)
    ]


def _releases(session: Session, report_id: int, jurisdiction: str | None) -> list[tuple[int, ReleaseOut]]:
    """A report's releases, with their ids: to one jurisdiction, or (None) to any."""
    query = (
        sa.select(Release.id, Agency.name, Release.released_at, Release.reason)
        .join(Agency, Agency.id == Release.agency_id)
        .where(Release.report_id == report_id)
        .order_by(Release.id)
    )
    if jurisdiction is not None:
        query = query.where(Release.jurisdiction_code == jurisdiction)
    return [
        (release_id, ReleaseOut(agency=name, released_at=at, reason=reason))
        for release_id, name, at, reason in session.execute(query)
    ]


def _bundle(session: Session, report: Report) -> BundleOut | None:
    if report.bundle_id is None:
        return None
    bundle = session.get(Bundle, report.bundle_id)
    if bundle is None:  # pragma: no cover - a report's bundle is never deleted
        return None
    members: list[BundleMember] = []
    if bundle.lead_report_id == report.id:
        query = (
            sa.select(Report.id, Report.received_at, Report.platform_ref, Report.country_code, Report.state_code)
            .where(Report.bundle_id == bundle.id, Report.id != report.id)
            .order_by(Report.id)
            .limit(MEMBERS_SHOWN)
        )
        members = [
            BundleMember(report_id=i, received_at=at, platform_report_id=ref, country_code=country, state_code=state)
            for i, at, ref, country, state in session.execute(query)
        ]
    return BundleOut(
        bundle_id=bundle.id,
        kind=bundle.kind.value,
        reason=bundle.reason,
        lead_report_id=bundle.lead_report_id,
        report_count=bundle.report_count,
        members=members,
    )


def full_report(session: Session, report: Report, jurisdiction: str | None = None) -> ReportFull:
    """A report in full, with its releases to ``jurisdiction`` (None: to every jurisdiction, for staff)."""
    bundle = _bundle(session, report)
    sizes = {bundle.bundle_id: (bundle.lead_report_id, bundle.report_count)} if bundle is not None else {}
    return ReportFull(
        **_core(report, _platform_names(session, [report]), sizes),
        status=report.status.value,
        platform_report_id=report.platform_ref,
        incident_at=report.incident_at,
        escalation_reason=report.escalation_reason,
        annotations=list(report.annotations or []),
        location_rule=report.location_rule,
        location_evidence=list(report.location_evidence or []),
        report=dict(report.body or {}),
        files=_files(session, report.id),
        releases=[release for _, release in _releases(session, report.id, jurisdiction)],
        bundle=bundle,
    )


def _detail(session: Session, report: Report, jurisdiction: str) -> ReportDetail:
    full = full_report(session, report, jurisdiction)
    # What made it available here: its own first release, or for a bundle member its lead's.
    via = report.id if full.releases or full.bundle is None else full.bundle.lead_report_id
    release_id, first = _releases(session, via, jurisdiction)[0]
    return ReportDetail(**dict(full), release_id=release_id, released_at=first.released_at)


@router.get("/reports/{report_id}", response_model=ReportDetail)
def read_made_available(
    report_id: Annotated[int, Path(ge=1, le=2**63 - 1)],
    user: UserDep,
    _known: Annotated[None, _only()],
    session: SessionDep,
    context: ContextDep,
) -> Response:
    """One report made available to your agency's jurisdiction, in full; every read is recorded."""
    officer = _officer(session, user)

    def refused(reason: str | None = None) -> None:
        with context.writing(session):
            availability.record_refused_read(
                session=session,
                report_id=report_id,
                reader=user.actor,
                agency_id=officer.agency_id,
                reason=reason,
                at=context.clock(),
            )

    if isinstance(officer, Refused):
        refused(officer.reason)
        return officer.answer()
    try:
        with context.writing(session):
            report = availability.read_report(
                session=session, report_id=report_id, reader=user.actor, agency_id=officer.agency_id
            )
            detail = _detail(session, report, officer.jurisdiction)
    except NotFound:
        refused()  # what `read_report` recorded was rolled back with the read: recorded again, on its own
        return problem(404, "No such report", f"report {report_id} was not made available to {officer.jurisdiction}")
    return _json(detail)
