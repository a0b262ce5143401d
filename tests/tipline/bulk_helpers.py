"""Helpers of the bulk-intake and pipeline tests: intake documents, NDJSON lines, a platform, an import."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from clearinghouse.access.service import create_platform
from clearinghouse.db.engine import Store
from clearinghouse.geo.agencies import seed_directory
from clearinghouse.tipline.bulk import BulkSummary, import_lines
from clearinghouse.tipline.lines import numbered_lines
from clearinghouse.tipline.models import Release, Report
from clearinghouse.tipline.wire_schemas import MAX_ENTRIES
from tests.tipline import factories

CP = "Child Pornography (possession, manufacture, and distribution)"
ENTICEMENT = "Online Enticement of Children for Sexual Acts"
T0 = dt.datetime(2023, 5, 1, 12, 0, tzinfo=dt.UTC)


def doc(
    *, incident_type: str = CP, state: str | None = None, country: str | None = None, **extra: Any
) -> dict[str, Any]:
    """An intake document; ``state``/``country`` add the reported person's estimated location."""
    document: dict[str, Any] = {
        "incident_type": incident_type,
        "incident_at": "2023-04-30T20:00:00Z",
        "reporter": {"reporting_person": {"first_name": "Trust", "last_name": "Safety"}},
        **extra,
    }
    if state is not None or country is not None:
        where = {"region": state, "country_code": country or "US"}
        document["reported_persons"] = [{"estimated_location": {k: v for k, v in where.items() if v}}]
    return document


def crowd(entries: int) -> list[dict[str, Any]]:
    """Reported persons with linked accounts, `entries` list entries in all (each person and each account is
    one), every list within its own bound: a report's `reported_persons`."""
    return factories.crowd(entries, MAX_ENTRIES, accounts_key="associated_accounts", account={"type": "Other"})


def md5(n: int) -> str:
    return f"{n:032x}"


def line(
    ref: str,
    report: dict[str, Any] | None = None,
    *,
    at: dt.datetime = T0,
    files: Sequence[dict[str, Any]] = (),
) -> bytes:
    """One NDJSON line."""
    body = {"platform_report_id": ref, "received_at": at.isoformat(), "report": report or doc(state="NC")}
    return json.dumps({**body, "files": list(files)}).encode()


def image(n: int, **extra: Any) -> dict[str, Any]:
    return {"kind": "image", "md5": md5(n), **extra}


def ready(store: Store, name: str = "Example Social") -> int:
    """Seed the agency directory and the pipeline's tables; a platform account's id."""
    with store.unit_of_work() as session:
        seed_directory(session)
        return create_platform(session=session, name=name).account.id


def send(store: Store, platform_id: int, lines: Sequence[bytes], **options: Any) -> BulkSummary:
    """Import ``lines`` as the platform would send them."""
    numbered = numbered_lines([b"\n".join(lines)])
    return import_lines(store, platform_id=platform_id, actor="platform:test", lines=numbered, **options)


def report_by_ref(store: Store, platform_id: int, ref: str) -> Report:
    with store.session() as session:
        report = session.scalar(sa.select(Report).where(Report.platform_id == platform_id, Report.platform_ref == ref))
        assert report is not None, ref
        return report


def releases_of(store: Store, report_id: int) -> set[str]:
    with store.session() as session:
        query = sa.select(Release.jurisdiction_code).where(Release.report_id == report_id)
        return set(session.scalars(query))
