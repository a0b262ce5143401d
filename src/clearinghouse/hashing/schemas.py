"""Input and output models of hash matching: banks, entries, import reports, lookups and matches."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

from clearinghouse.errors import InputError, require_past, validation_message
from clearinghouse.hashing import types
from clearinghouse.hashing.kinds import BankKind
from clearinghouse.validation import is_ascii_number

EARLIEST_ADDED = dt.datetime(1990, 1, 1, tzinfo=dt.UTC)
"""The earliest ``added_at`` a bank entry may carry. Banks of file digests date from the 1990s at the earliest
(MD5 is from 1992); an earlier date is a tool's placeholder (1970-01-01, 1900-01-01) read as a date."""
MAX_CATEGORY = 99
"""The largest Project VIC category taken. The national categorisation schemes number their categories with
small whole numbers from 0 (uncategorised); the category rule of the review reads 2 ("age difficult"). A
negative or huge number is a corrupt or mistyped record, and would not survive an export to VICS and back."""


def vics_category(field: str, value: object) -> str | None:
    """A Project VIC category, given as a whole number (or its ASCII digits), as its canonical text ("02" is
    "2"); None when missing; otherwise (a blank text included) an InputError naming ``field``."""
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        if is_ascii_number(text) and len(text.lstrip("0")) <= len(str(MAX_CATEGORY)):
            value = int(text)
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_CATEGORY:
        return str(value)
    shown = value if len(str(value)) <= 40 else f"{str(value)[:40]}… ({len(str(value))} characters)"
    raise InputError(field, f"expected a Project VIC category: a whole number from 0 to {MAX_CATEGORY}", shown)


class BankCreate(BaseModel):
    """A new bank."""

    name: str = Field(min_length=1, max_length=120, description="Unique name, used on the command line.")
    kind: BankKind
    source: str = Field(default="", max_length=200, description="Who provided the hashes.")
    description: str | None = None

    @field_validator("name")
    @classmethod
    def _strip_name(cls, value: str) -> str:
        stripped = value.strip()
        if not stripped:
            raise ValueError("must not be blank")
        return stripped


class BankRead(BaseModel):
    """A bank with its size."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    kind: BankKind
    source: str
    description: str | None
    created_at: dt.datetime
    entry_count: int = 0
    hash_count: int = 0


class EntryIn(BaseModel):
    """One known file to put in a bank, whatever format it came from; hashes are validated and normalised."""

    hashes: dict[str, str] = Field(description="Hash values by hash type name (md5, sha1, sha256, pdq).")
    pdq_quality: int | None = Field(default=None, ge=0, le=100)
    series: str | None = Field(default=None, max_length=200)
    category: str | None = Field(default=None, description="Project VIC category, 0 to 99 (as text).")
    victim_identified: bool | None = None
    added_at: dt.datetime | None = None
    attributes: dict[str, Any] = Field(default_factory=dict)

    @field_validator("hashes")
    @classmethod
    def _normalise_hashes(cls, value: dict[str, str]) -> dict[str, str]:
        normalised: dict[str, str] = {}
        for name, raw in value.items():
            hash_type = types.get(name)
            normalised[hash_type.name] = hash_type.normalise(raw)
        if not normalised:
            raise ValueError("at least one hash is needed (md5, sha1, sha256 or pdq)")
        return normalised

    @field_validator("added_at")
    @classmethod
    def _plausible_time(cls, value: dt.datetime | None) -> dt.datetime | None:
        """Aware, not in the future (a minute of clock skew allowed), not before :data:`EARLIEST_ADDED`."""
        if value is None:
            return None
        value = require_past("added_at", value)
        if value < EARLIEST_ADDED:
            problem = f"is before {EARLIEST_ADDED.date().isoformat()}: no bank of digests is that old"
            raise InputError("added_at", problem, value.isoformat())
        return value

    @field_validator("series")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        if value is None:
            return None
        return value.strip() or None

    @field_validator("category", mode="before")
    @classmethod
    def _category(cls, value: object) -> str | None:
        if isinstance(value, str) and not value.strip():
            return None  # an empty cell of a CSV file
        return vics_category("category", value)


class HashRead(BaseModel):
    """One hash of an entry."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    hash_type: str
    value: str
    quality: int | None


class EntryRead(BaseModel):
    """An entry of a bank with its hashes."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    bank_id: int
    series: str | None
    category: str | None
    victim_identified: bool | None
    added_at: dt.datetime
    attributes: dict[str, Any]
    hashes: list[HashRead]


class ImportFormatError(InputError):
    """A file refused as a whole (nothing of it is loaded): the line where it goes wrong and why."""

    def __init__(self, line: int, reason: str) -> None:
        self.line = line
        self.reason = reason
        super().__init__(f"line {line}", reason)


def error_reason(error: Exception) -> str:
    """A one-line reason for a refused record: each field at fault and what is wrong with it."""
    if not isinstance(error, ValidationError):
        return str(error)
    reasons = []
    for item in error.errors():
        cause = (item.get("ctx") or {}).get("error")
        if isinstance(cause, InputError):  # our own validation already names the field
            reasons.append(str(cause))
        else:
            where = ".".join(str(part) for part in item["loc"]) or "record"
            reasons.append(f"{where}: {validation_message(item)}")
    return "; ".join(reasons)


class RowError(BaseModel):
    """A record of an import file that was not loaded: where it is and why."""

    line: int = Field(description="Line of the file where the record starts (1-based).")
    reason: str


MAX_LISTED = 1000
"""Refused records listed by line in a report or a refusal; beyond them only their number is given. A file of a
million bad rows would otherwise make a report of a million lines, all held in memory until it is printed."""


class Refusals:
    """The records refused while a file is read: the first :data:`MAX_LISTED` of them, and how many in all."""

    def __init__(self) -> None:
        self.listed: list[RowError] = []
        self.count = 0

    def add(self, error: RowError) -> None:
        """Count a refused record, and list it while fewer than :data:`MAX_LISTED` are."""
        self.count += 1
        if len(self.listed) < MAX_LISTED:
            self.listed.append(error)

    def sift(self, records: Iterable[EntryIn | RowError]) -> Iterator[EntryIn]:
        """The entries of a reader's records, as they come; its refusals are kept here."""
        for record in records:
            if isinstance(record, RowError):
                self.add(record)
            else:
                yield record


def split(records: Iterable[EntryIn | RowError]) -> tuple[list[EntryIn], list[RowError]]:
    """A reader's records as two lists, entries and refusals (for a text held in memory: every record is kept)."""
    entries: list[EntryIn] = []
    errors: list[RowError] = []
    for record in records:
        if isinstance(record, RowError):
            errors.append(record)
        else:
            entries.append(record)
    return entries, errors


class ImportReport(BaseModel):
    """What an import did: entries added and updated, and the records refused with their reasons."""

    bank: str
    format: str
    added: int = 0
    updated: int = 0
    refused: int = Field(default=0, description=f"Records refused in all; errors lists the first {MAX_LISTED}.")
    errors: list[RowError] = Field(default_factory=list)


class HashQuery(BaseModel):
    """The hashes of one file to look up; any may be missing. ``ref`` is the caller's own reference."""

    ref: str | None = None
    md5: str | None = None
    sha1: str | None = None
    sha256: str | None = None
    pdq: str | None = None
    pdq_quality: int | None = Field(default=None, ge=0, le=100)

    @field_validator("md5", "sha1", "sha256", "pdq")
    @classmethod
    def _normalise(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None or not str(value).strip():
            return None
        return types.get(str(info.field_name)).normalise(value)

    @model_validator(mode="after")
    def _quality_needs_pdq(self) -> HashQuery:
        if self.pdq_quality is not None and self.pdq is None:
            raise ValueError("pdq_quality is given without a pdq hash")
        return self

    def values(self) -> dict[str, str]:
        """The hashes present, by type name."""
        present = {"md5": self.md5, "sha1": self.sha1, "sha256": self.sha256, "pdq": self.pdq}
        return {name: value for name, value in present.items() if value is not None}


class MatchRead(BaseModel):
    """A bank hash that a query matched: which bank, which entry, its series and how far apart they are."""

    bank_id: int
    bank: str
    bank_kind: BankKind
    entry_id: int
    hash_id: int
    hash_type: str
    value: str
    distance: int = Field(description="0 for equal values; Hamming distance (of 256 bits) for PDQ.")
    series: str | None
    category: str | None
    victim_identified: bool | None
    surge: bool = Field(default=False, description="This bank hash matches far more than its share of lookups.")


class LookupResult(BaseModel):
    """Everything one query matched. Allow-list hits suppress the other matches of the same query."""

    query: HashQuery
    matches: list[MatchRead] = Field(default_factory=list)
    allow_listed: list[MatchRead] = Field(default_factory=list)
    suppressed: int = Field(default=0, description="Matches withheld because the file is on an allow-list.")
    pdq_skipped: str | None = Field(default=None, description="Why the PDQ hash was not matched, if it was not.")

    @property
    def matched(self) -> bool:
        """Whether anything (other than an allow-list) matched."""
        return bool(self.matches)
