"""The agency directory shipped with the platform, and its idempotent seeding into the store.

The directory lives in ``agency_directory.csv`` beside this module (columns ``jurisdiction_code``, ``kind``,
``name``), so that operators review changes to it as data, not code. Names are generic and regional; they name
offices, never people. It holds, for every state, DC and territory, at least one ICAC task force (61 in all,
several for the largest states), a state law-enforcement agency and a social-services agency, plus the federal
liaisons under ``FED`` and the international liaison under ``INTL``.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from functools import cache
from importlib import resources

import sqlalchemy as sa
from sqlalchemy.orm import Session

from clearinghouse.geo.jurisdictions import ALL_JURISDICTIONS, get_jurisdiction_info
from clearinghouse.geo.models import Agency, AgencyKind, Jurisdiction

DIRECTORY_FILE = "agency_directory.csv"


class DirectoryError(ValueError):
    """Raised when the directory file names an unknown jurisdiction or kind, or repeats an agency."""


@dataclass(frozen=True, slots=True)
class DirectoryEntry:
    """One agency as the directory file describes it."""

    jurisdiction_code: str
    kind: AgencyKind
    name: str


@dataclass(frozen=True, slots=True)
class SeedResult:
    """What one seeding run changed (all zero when the store already matched the directory)."""

    jurisdictions_added: int
    jurisdictions_updated: int
    agencies_added: int


def parse_directory(text: str, *, source: str = DIRECTORY_FILE) -> tuple[DirectoryEntry, ...]:
    """The entries of a directory CSV; an error names the line, the column and what was given."""
    reader = csv.DictReader(io.StringIO(text))
    expected_columns = ["jurisdiction_code", "kind", "name"]
    if reader.fieldnames != expected_columns:
        raise DirectoryError(f"{source}: header must be {','.join(expected_columns)}, found {reader.fieldnames}")
    entries: list[DirectoryEntry] = []
    seen: set[tuple[str, str]] = set()
    for row in reader:
        where = f"{source} line {reader.line_num}"
        code = (row["jurisdiction_code"] or "").strip()
        try:
            jurisdiction = get_jurisdiction_info(code)
        except ValueError as error:
            raise DirectoryError(f"{where}: column jurisdiction_code: {error}") from error
        try:
            kind = AgencyKind((row["kind"] or "").strip())
        except ValueError as error:
            allowed = ", ".join(k.value for k in AgencyKind)
            raise DirectoryError(f"{where}: column kind: expected one of {allowed}, got {row['kind']!r}") from error
        name = (row["name"] or "").strip()
        if not name:
            raise DirectoryError(f"{where}: column name is empty")
        # The store's unique constraint is (jurisdiction, name); catch a repeat here, with its line number.
        if (jurisdiction.code, name) in seen:
            raise DirectoryError(f"{where}: agency {name!r} appears twice under {jurisdiction.code}")
        seen.add((jurisdiction.code, name))
        entries.append(DirectoryEntry(jurisdiction.code, kind, name))
    return tuple(entries)


@cache
def directory() -> tuple[DirectoryEntry, ...]:
    """The shipped agency directory."""
    text = resources.files("clearinghouse.geo").joinpath(DIRECTORY_FILE).read_text(encoding="utf-8")
    return parse_directory(text)


def seed_jurisdictions(session: Session) -> tuple[int, int]:
    """Insert missing jurisdictions, correct changed names, kinds or FIPS codes; return (added, updated)."""
    existing = {row.code: row for row in session.scalars(sa.select(Jurisdiction))}
    added = updated = 0
    for info in ALL_JURISDICTIONS:
        row = existing.get(info.code)
        if row is None:
            session.add(Jurisdiction(code=info.code, name=info.name, kind=info.kind, fips=info.fips))
            added += 1
        elif (row.name, row.kind, row.fips) != (info.name, info.kind, info.fips):
            row.name, row.kind, row.fips = info.name, info.kind, info.fips
            updated += 1
    # Agencies reference jurisdictions by foreign key; make the rows visible before they are referenced.
    session.flush()
    return added, updated


def seed_directory(session: Session, entries: tuple[DirectoryEntry, ...] | None = None) -> SeedResult:
    """Bring the store up to the agency directory: running it twice leaves the same rows. Does not commit.

    Missing jurisdictions and agencies are added. An agency already present (same jurisdiction and name) is
    left as it is, so an operator's deactivation survives re-seeding; agencies absent from the directory
    (created through :func:`clearinghouse.geo.service.create_agency`) are never removed.
    """
    jurisdictions_added, jurisdictions_updated = seed_jurisdictions(session)
    present = {(code, name) for code, name in session.execute(sa.select(Agency.jurisdiction_code, Agency.name))}
    agencies_added = 0
    for entry in directory() if entries is None else entries:
        if (entry.jurisdiction_code, entry.name) in present:
            continue
        session.add(Agency(name=entry.name, kind=entry.kind, jurisdiction_code=entry.jurisdiction_code))
        present.add((entry.jurisdiction_code, entry.name))
        agencies_added += 1
    session.flush()
    return SeedResult(jurisdictions_added, jurisdictions_updated, agencies_added)
