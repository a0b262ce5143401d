"""The audit log: every change of a record and every read of a report leaves an event."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from clearinghouse.access.models import AuditEvent
from clearinghouse.db.base import table_of, utcnow

SYSTEM = "system"
"""Actor name for steps the clearinghouse takes by itself (pipeline, expiry)."""


def record(
    *,
    session: Session,
    actor: str,
    action: str,
    subject_type: str,
    subject_id: object,
    detail: dict[str, Any] | None = None,
    at: dt.datetime | None = None,
) -> AuditEvent:
    """Add one audit event to the caller's unit of work."""
    event = AuditEvent(
        at=at or utcnow(),
        actor=actor,
        action=action,
        subject_type=subject_type,
        subject_id=str(subject_id),
        detail=detail,
    )
    session.add(event)
    return event


def record_many(*, session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Add many audit events at once (each row has the keyword arguments of ``record``)."""
    if not rows:
        return
    now = utcnow()
    session.execute(
        sa.insert(table_of(AuditEvent)),
        [
            {
                "at": row.get("at") or now,
                "actor": row["actor"],
                "action": row["action"],
                "subject_type": row["subject_type"],
                "subject_id": str(row["subject_id"]),
                "detail": row.get("detail"),
            }
            for row in rows
        ],
    )


def history(*, session: Session, subject_type: str, subject_id: object) -> list[AuditEvent]:
    """Every event about one record, oldest first."""
    query = (
        sa.select(AuditEvent)
        .where(AuditEvent.subject_type == subject_type, AuditEvent.subject_id == str(subject_id))
        .order_by(AuditEvent.at, AuditEvent.id)
    )
    return list(session.scalars(query))
