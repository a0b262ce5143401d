"""A small world for reviews: series, banks that know some files, and an agency's manifest of twelve files.

Files are named by number; file n's digests are those of the text ``file-n`` (no content is involved). What the
banks say of each file, and the category the rule must give it:

| position | file | banks | expected category |
|---|---|---|---|
| 1, 2 | 1 (two copies) | Known: series SER-ID-1 | identified series |
| 3 | 2 | Known: SER-ID-1 | identified series |
| 4 | 3 | Known: SER-TR-1 | tracked series |
| 5 | 4 | Known: no series | not determinable |
| 6 | 5 | Known: SER-ID-2 with category 2 (age difficult) | not determinable |
| 7 | 6 | Known: a series name never registered | not determinable |
| 8 | 7 | Known: SER-ID-1; Series bank: SER-TR-1 | identified and tracked |
| 9 | 8 | Benign (allow-list) | no series, not queued |
| 10, 11 | 9, 10 | nothing | no series, queued |
| 12 | 11 (SHA-1 only) | nothing | no series, queued |
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from clearinghouse.db.engine import Store
from clearinghouse.hashing import service as hashing
from clearinghouse.hashing.models import BankKind
from clearinghouse.hashing.schemas import EntryIn
from clearinghouse.victim_id import service
from clearinghouse.victim_id.manifest import ManifestFile, parse_manifest, submit_manifest
from clearinghouse.victim_id.models import Submission
from clearinghouse.victim_id.schemas import IdentificationCreate, SeriesCreate

UTC = dt.UTC
SUBMITTED = dt.datetime(2023, 3, 1, 9, 0, tzinfo=UTC)
REVIEWED = dt.datetime(2023, 5, 10, 15, 30, tzinfo=UTC)
PLANTED_NAME = "Jane Roe"
"""A child's name planted in a bank entry's attributes and a manifest's file name: no output may carry it."""
MANIFEST_FILES = (1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11)
SHA1_ONLY = frozenset({11})


def md5(n: int) -> str:
    return hashlib.md5(f"file-{n}".encode()).hexdigest()


def sha1(n: int) -> str:
    return hashlib.sha1(f"file-{n}".encode()).hexdigest()


def entry(n: int, **metadata: Any) -> EntryIn:
    return EntryIn(hashes={"md5": md5(n), "sha1": sha1(n)}, **metadata)


def manifest_file(n: int) -> ManifestFile:
    return ManifestFile(md5=None if n in SHA1_ONLY else md5(n), sha1=sha1(n))


def vics_manifest(numbers: tuple[int, ...] = MANIFEST_FILES) -> str:
    """A VICS 2.0 manifest; the agency's own Series and Category are there, and must be ignored."""
    media = []
    for position, n in enumerate(numbers, start=1):
        record: dict[str, Any] = {"MediaID": position, "SHA1": sha1(n).upper(), "Category": 1, "Series": "AGENCY-X"}
        if n not in SHA1_ONLY:
            record["MD5"] = md5(n).upper()
        record["MediaFiles"] = [{"FileName": f"{PLANTED_NAME.replace(' ', '_').lower()}_{position}.jpg"}]
        media.append(record)
    return json.dumps({"@odata.context": "x#Media", "value": media}, indent=2)


@dataclass(frozen=True)
class World:
    """Ids of what :func:`build` made."""

    series: dict[str, int]


def _series(session: Session, code: str, opened: dt.datetime) -> int:
    return service.open_series(session=session, data=SeriesCreate(code=code, opened_at=opened)).id


def build(store: Store) -> World:
    """Series SER-ID-1 and SER-ID-2 (identified), SER-TR-1 (tracked), and the banks of the module's table."""
    with store.unit_of_work() as session:
        ids = {
            "SER-ID-1": _series(session, "SER-ID-1", dt.datetime(2021, 6, 1, tzinfo=UTC)),
            "SER-ID-2": _series(session, "SER-ID-2", dt.datetime(2022, 2, 1, tzinfo=UTC)),
            "SER-TR-1": _series(session, "SER-TR-1", dt.datetime(2023, 1, 15, tzinfo=UTC)),
        }
        for number, code in enumerate(("SER-ID-1", "SER-ID-2"), start=1):
            data = IdentificationCreate(
                reference=f"ID-{number}", identified_at=dt.datetime(2022, number, 10, tzinfo=UTC), series_id=ids[code]
            )
            service.record_identification(session=session, data=data)
        known = hashing.get_or_create_bank(session=session, name="Known", kind=BankKind.KNOWN_ABUSE)
        hashing.add_entries(
            session=session,
            bank=known,
            entries=[
                entry(1, series="SER-ID-1", category="1", attributes={"VictimName": PLANTED_NAME}),
                entry(2, series="SER-ID-1", category="1"),
                entry(3, series="SER-TR-1", category="1"),
                entry(4, category="1"),
                entry(5, series="SER-ID-2", category="2"),
                entry(6, series="NEVER-REGISTERED", category="1"),
                entry(7, series="SER-ID-1", category="1"),
            ],
        )
        series_bank = hashing.get_or_create_bank(session=session, name="Series", kind=BankKind.IDENTIFIED_SERIES)
        hashing.add_entries(session=session, bank=series_bank, entries=[entry(7, series="SER-TR-1")])
        benign = hashing.get_or_create_bank(session=session, name="Benign", kind=BankKind.ALLOW_LIST)
        hashing.add_entries(session=session, bank=benign, entries=[entry(8)])
    return World(series=ids)


def submit(
    store: Store,
    agency: int,
    case: str = "2023-ICAC-0042",
    numbers: tuple[int, ...] = MANIFEST_FILES,
    submitted_at: dt.datetime = SUBMITTED,
) -> Submission:
    """Submit a VICS manifest of these files for the agency's case."""
    files = parse_manifest(vics_manifest(numbers))
    with store.unit_of_work() as session:
        return submit_manifest(
            session=session, agency_id=agency, case_number=case, files=files, actor="portal", submitted_at=submitted_at
        )
