"""Tipline records: a report's lifecycle (open, files, finished, retracted, expired). What law enforcement
may see of them is `tipline.availability`'s. Keyword-only verbs; the caller's unit of work commits."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from clearinghouse.access import audit
from clearinghouse.access.models import AuditEvent
from clearinghouse.db.base import table_of, utcnow
from clearinghouse.errors import Conflict, NotFound
from clearinghouse.tipline.fastsql import EncodedJSON
from clearinghouse.tipline.models import (
    FileKind,
    IncidentType,
    Report,
    ReportFile,
    ReportSource,
    ReportStatus,
)
from clearinghouse.validation import require_row

OPEN_REPORT_LIFETIME = dt.timedelta(hours=24)
"""An unfinished report lives at least this long after it was opened ..."""
OPEN_REPORT_IDLE = dt.timedelta(hours=1)
"""... and at least this long after its last change; whichever is later."""


class ReportStateError(Conflict):
    """A lifecycle step the report's status does not allow; carries the interface's response code."""

    def __init__(self, code: int, message: str) -> None:
        self.code = code
        super().__init__(message)


def _expiry(opened_at: dt.datetime, last_changed_at: dt.datetime) -> dt.datetime:
    return max(opened_at + OPEN_REPORT_LIFETIME, last_changed_at + OPEN_REPORT_IDLE)


def expires_at(report: Report) -> dt.datetime:
    """When an open report is deleted if not finished: 24 h after opening or 1 h after the last change."""
    return _expiry(report.opened_at, report.last_changed_at)


def status_at(report: Report, now: dt.datetime) -> ReportStatus:
    """The report's status as its platform sees it at `now`.

    An open report past its lifetime is expired from that moment, as every lifecycle call about it answers,
    although the sweep that marks it so runs only every few minutes.
    """
    if report.status is ReportStatus.OPEN and now > expires_at(report):
        return ReportStatus.EXPIRED
    return report.status


_REPORTS = table_of(Report)
_FILES = table_of(ReportFile)


def json_text(name: str, dialect: str) -> sa.ColumnElement[Any]:
    """A parameter for a JSON column that takes the JSON text itself, encoded by the caller (outside the write
    turn): SQLite stores the text as its JSON type would after encoding the value, PostgreSQL parses it."""
    parameter = sa.bindparam(name, type_=sa.Text)
    return parameter if dialect == "sqlite" else sa.cast(parameter, JSONB)


def by_dialect(build: Callable[[str], sa.Executable]) -> dict[str, sa.Executable]:
    """A statement built once for each kind of store (see `json_text`)."""
    return {dialect: build(dialect) for dialect in ("sqlite", "postgresql")}


_AUDIT_EVENTS = table_of(AuditEvent)

# The statements of the lifecycle verbs, built once: building a statement costs more CPU than running it.
_INSERT_AUDIT = sa.insert(_AUDIT_EVENTS)
_INSERT_REPORT = by_dialect(
    lambda dialect: (
        sa.insert(_REPORTS)
        .values(body=json_text("body_text", dialect), location_evidence=json_text("evidence", dialect))
        .returning(_REPORTS.c.id)
    )
)
_INSERT_FILE = sa.insert(_FILES).returning(_FILES.c.id)
_OPEN_ROW = sa.select(_REPORTS.c.status, _REPORTS.c.opened_at, _REPORTS.c.last_changed_at).where(
    _REPORTS.c.id == sa.bindparam("report_id")
)
_CHANGE_OPEN = sa.update(_REPORTS).where(
    _REPORTS.c.id == sa.bindparam("report_id"), _REPORTS.c.status == ReportStatus.OPEN
)
_NOW = sa.bindparam("now", type_=_REPORTS.c.last_changed_at.type)
_ADD_FILE = _CHANGE_OPEN.values(file_count=_REPORTS.c.file_count + 1, last_changed_at=_NOW).returning(
    _REPORTS.c.file_count
)
_TOUCH = _CHANGE_OPEN.values(last_changed_at=_NOW).returning(_REPORTS.c.file_count)
_FINISH = _CHANGE_OPEN.values(status=ReportStatus.FINISHED, received_at=_NOW, last_changed_at=_NOW).returning(
    _REPORTS.c.file_count
)
_RETRACT = _CHANGE_OPEN.values(status=ReportStatus.RETRACTED, retracted_at=_NOW, last_changed_at=_NOW).returning(
    _REPORTS.c.file_count
)
_FINISH_WITH_CLUES = by_dialect(lambda dialect: _FINISH.values(location_evidence=json_text("evidence", dialect)))
_DESCRIBE_FILE = (
    sa.update(_FILES)
    .where(_FILES.c.report_id == sa.bindparam("of_report"), _FILES.c.file_ref == sa.bindparam("of_file"))
    .values(
        details=sa.bindparam("new_details", type_=_FILES.c.details.type),
        location_evidence=sa.bindparam("new_evidence", type_=_FILES.c.location_evidence.type),
    )
    .returning(_FILES.c.id)
)


def _audit(*, session: Session, actor: str, action: str, report_id: int, at: dt.datetime, detail: Any = None) -> None:
    # One Core INSERT, written at once: no ORM object for the unit of work to track and flush.
    session.connection().execute(
        _INSERT_AUDIT,
        {
            "at": at,
            "actor": actor,
            "action": action,
            "subject_type": "report",
            "subject_id": str(report_id),
            "detail": detail,
        },
    )


def _loaded(session: Session, model: type[Report] | type[ReportFile], key: int) -> Any:
    """The object of ``model`` with primary key ``key`` if this session already holds it (no query), else None."""
    return session.identity_map.get(identity_key(model, key))


def _sync(target: object | None, values: dict[str, Any]) -> None:
    """Bring an object the session already holds up to date with what a Core UPDATE just wrote."""
    if target is not None:
        for name, value in values.items():
            set_committed_value(target, name, value)


def _attach(session: Session, target: Report | ReportFile) -> None:
    """Make an object built from a row just written (by a Core INSERT) persistent in ``session``, clean."""
    make_transient_to_detached(target)
    session.add(target)


def open_report(
    *,
    session: Session,
    incident_type: IncidentType,
    source: ReportSource,
    body: dict[str, Any] | EncodedJSON,
    actor: str,
    platform_id: int | None = None,
    platform_ref: str | None = None,
    incident_at: dt.datetime | None = None,
    escalation_reason: str | None = None,
    annotations: Sequence[str] = (),
    location_evidence: str | None = None,
    at: dt.datetime | None = None,
) -> Report:
    """Open a new report (not yet filed: it must be finished to count).

    ``body``: the document as stored, or its JSON text encoded outside the write turn (for a large report the
    encoding is the dearest step; the report then loads it from the store when it is asked for).
    ``location_evidence``: the clues of the report's document as JSON text, encoded outside the write turn, for
    finishing to add its files' to (none: finishing computes them from ``body``).
    """
    now = at or utcnow()
    values: dict[str, Any] = {
        "source": source,
        "platform_id": platform_id,
        "platform_ref": platform_ref,
        "incident_type": incident_type,
        "status": ReportStatus.OPEN,
        "opened_at": now,
        "last_changed_at": now,
        "received_at": None,
        "retracted_at": None,
        "incident_at": incident_at,
        "escalation_reason": escalation_reason,
        "annotations": list(annotations),
        "file_count": 0,
    }
    body_text = body if isinstance(body, EncodedJSON) else orjson.dumps(body).decode()
    # Pending ORM changes first (Core statements do not autoflush), so that the rows keep their order.
    session.flush()
    connection = session.connection()
    statement = _INSERT_REPORT[connection.dialect.name]
    report_id: int = connection.execute(
        statement, {**values, "body_text": body_text, "evidence": location_evidence}
    ).scalar_one()
    if not isinstance(body, EncodedJSON):
        values["body"] = body
    report = Report(id=report_id, **values)
    _attach(session, report)
    _audit(session=session, actor=actor, action="report.opened", report_id=report_id, at=now)
    return report


def get_report(*, session: Session, report_id: int) -> Report:
    """The report, or NotFound."""
    report = require_row(session, Report, report_id, "report")
    return report


def _require_open(report: Report, *, now: dt.datetime) -> None:
    check_open(report.id, report.status, report.opened_at, report.last_changed_at, now=now)


def check_open(
    report_id: int, status: ReportStatus, opened_at: dt.datetime, last_changed_at: dt.datetime, *, now: dt.datetime
) -> None:
    """Refuse a lifecycle step on a report that is no longer open, from the columns that decide it."""
    if status is ReportStatus.RETRACTED:
        raise ReportStateError(5101, f"report {report_id} was retracted")
    if status is ReportStatus.FINISHED:
        raise ReportStateError(5102, f"report {report_id} is already finished")
    expiry = _expiry(opened_at, last_changed_at)
    if status is ReportStatus.EXPIRED or now > expiry:
        raise ReportStateError(5001, f"report {report_id} expired unfinished at {expiry.isoformat()}")


def _require_open_row(session: Session, report_id: int, *, now: dt.datetime) -> None:
    """Check that the report exists and is open, reading only the columns that decide it (no ORM object)."""
    held = _loaded(session, Report, report_id)
    if held is not None:
        # Pending changes of a report the session holds count (a read below would flush them first anyway).
        _require_open(held, now=now)
        return
    row = session.connection().execute(_OPEN_ROW, {"report_id": report_id}).first()
    if row is None:
        raise NotFound("report", report_id)
    check_open(report_id, row.status, row.opened_at, row.last_changed_at, now=now)


def _change_open(
    session: Session,
    report_id: int,
    statement: sa.Executable,
    *,
    now: dt.datetime,
    checked: bool = False,
    more: dict[str, Any] | None = None,
) -> sa.Row[Any]:
    """Run one of the UPDATE ... RETURNING statements above on an open report (with `more` parameters); refuse as
    `_require_open` would.

    The UPDATE is guarded by the status, so that a concurrent transition (PostgreSQL) is not overwritten.
    """
    if not checked:
        _require_open_row(session, report_id, now=now)
        session.flush()
    row = session.connection().execute(statement, {"report_id": report_id, "now": now, **(more or {})}).first()
    if row is None:
        # Changed by someone else since the check: report the state it is in now.
        held = _loaded(session, Report, report_id)
        if held is not None:
            session.expire(held)
        _require_open_row(session, report_id, now=now)
        raise ReportStateError(5001, f"report {report_id} is no longer open")
    return row


def add_file(
    *,
    session: Session,
    report_id: int,
    actor: str,
    kind: FileKind,
    md5: str | None = None,
    sha1: str | None = None,
    sha256: str | None = None,
    pdq: str | None = None,
    pdq_quality: int | None = None,
    size: int | None = None,
    filename: str | None = None,
    at: dt.datetime | None = None,
) -> ReportFile:
    """Attach one file's hashes to an open report (the content itself is never given to this function)."""
    now = at or utcnow()
    changed = _change_open(session, report_id, _ADD_FILE, now=now)
    file_count: int = changed.file_count
    _sync(_loaded(session, Report, report_id), {"file_count": file_count, "last_changed_at": now})
    values: dict[str, Any] = {
        "report_id": report_id,
        "file_ref": f"{report_id}-{file_count}",
        "filename": filename,
        "kind": kind,
        "size": size,
        "md5": md5,
        "sha1": sha1,
        "sha256": sha256,
        "pdq": pdq,
        "pdq_quality": pdq_quality,
        "details": None,
        "previously_seen": None,
        "uploaded_at": now,
    }
    file_id: int = session.connection().execute(_INSERT_FILE, values).scalar_one()
    file = ReportFile(id=file_id, **values)
    _attach(session, file)
    _audit(
        session=session,
        actor=actor,
        action="report.file_added",
        report_id=report_id,
        detail={"file": file.file_ref},
        at=now,
    )
    return file


def set_file_details(
    *,
    session: Session,
    report_id: int,
    file_ref: str,
    details: dict[str, Any],
    actor: str,
    location_evidence: list[dict[str, Any]] | None = None,
    at: dt.datetime | None = None,
) -> ReportFile:
    """Record the platform's description of one file (hashes, annotations, classification), with the location
    clues found in it (none: finishing computes them from ``details``)."""
    now = at or utcnow()
    _require_open_row(session, report_id, now=now)
    session.flush()
    file_id = (
        session.connection()
        .execute(
            _DESCRIBE_FILE,
            {"of_report": report_id, "of_file": file_ref, "new_details": details, "new_evidence": location_evidence},
        )
        .scalar()
    )
    if file_id is None:
        raise NotFound("file", file_ref)
    _change_open(session, report_id, _TOUCH, now=now, checked=True)
    _sync(_loaded(session, Report, report_id), {"last_changed_at": now})
    file: ReportFile | None = _loaded(session, ReportFile, file_id)
    if file is None:
        # Only what is known without a read; any other attribute loads on first access.
        file = ReportFile(
            id=file_id, report_id=report_id, file_ref=file_ref, details=details, location_evidence=location_evidence
        )
        _attach(session, file)
    else:
        _sync(file, {"details": details, "location_evidence": location_evidence})
    _audit(
        session=session,
        actor=actor,
        action="report.file_described",
        report_id=report_id,
        detail={"file": file_ref},
        at=now,
    )
    return file


def _changed(
    session: Session, report_id: int, values: dict[str, Any], *, actor: str, action: str, at: dt.datetime
) -> Report:
    """The report after a lifecycle UPDATE wrote ``values``, audited as ``action``: the session's copy brought up
    to date, or one holding only what was written (any other attribute loads on first access)."""
    report: Report | None = _loaded(session, Report, report_id)
    if report is None:
        report = Report(id=report_id, **values)
        _attach(session, report)
    else:
        _sync(report, values)
    _audit(session=session, actor=actor, action=action, report_id=report_id, at=at)
    return report


def finish_report(
    *,
    session: Session,
    report_id: int,
    actor: str,
    at: dt.datetime | None = None,
    location_evidence: str | None = None,
    checked: bool = False,
) -> Report:
    """File the report, irreversibly: from now on it is received and goes through the pipeline.

    ``location_evidence``: its location clues as JSON text, stored in the same UPDATE (the row of a large report
    is megabytes, each UPDATE writes all of it); none: left as they are. ``checked``: the caller has just
    checked that the report is open (`check_open`).
    """
    now = at or utcnow()
    values: dict[str, Any] = {"status": ReportStatus.FINISHED, "received_at": now, "last_changed_at": now}
    if location_evidence is None:
        _change_open(session, report_id, _FINISH, now=now, checked=checked)
    else:
        statement = _FINISH_WITH_CLUES[session.connection().dialect.name]
        _change_open(session, report_id, statement, now=now, checked=checked, more={"evidence": location_evidence})
    return _changed(session, report_id, values, actor=actor, action="report.finished", at=now)


def retract_report(*, session: Session, report_id: int, actor: str, at: dt.datetime | None = None) -> Report:
    """Cancel an open report; it is kept as retracted and never counted."""
    now = at or utcnow()
    values: dict[str, Any] = {"status": ReportStatus.RETRACTED, "retracted_at": now, "last_changed_at": now}
    _change_open(session, report_id, _RETRACT, now=now)
    return _changed(session, report_id, values, actor=actor, action="report.retracted", at=now)


def expire_stale(*, session: Session, now: dt.datetime | None = None) -> int:
    """Mark open reports past their lifetime as expired (and drop their file rows); returns how many."""
    now = now or utcnow()
    candidates = session.scalars(
        sa.select(Report).where(
            # processed_at IS NULL holds for every open report, and lets the look-up use the partial status index.
            Report.status == ReportStatus.OPEN,
            Report.processed_at.is_(None),
            Report.opened_at < now - OPEN_REPORT_IDLE,
        )
    ).all()
    expired = [report for report in candidates if now > expires_at(report)]
    for report in expired:
        report.status = ReportStatus.EXPIRED
        report.last_changed_at = now
        session.execute(sa.delete(ReportFile).where(ReportFile.report_id == report.id))
    audit.record_many(
        session=session,
        rows=[
            {
                "actor": audit.SYSTEM,
                "action": "report.expired",
                "subject_type": "report",
                "subject_id": r.id,
                "at": now,
            }
            for r in expired
        ],
    )
    return len(expired)
