"""Hash sets as CSV: one known file a row, reading into bank entries and writing a bank back out.

Columns (header row required, any order): ``md5``, ``sha1``, ``sha256``, ``pdq`` (at least one per row),
``pdq_quality`` (0 to 100), ``series``, ``category`` (a Project VIC category, 0 to 99), ``victim_identified``
(true/false/yes/no/1/0), ``added_at`` (ISO 8601 with a time zone, from 1990 to now) and ``attributes`` (a JSON
object). Any other column is kept in the entry's attributes under its header. Columns are separated by commas, or
by semicolons or tabs when the header is. A file without a header naming at least one hash column is refused
whole; a bad row is reported with its line and the other rows still load.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import json
from collections.abc import Iterable, Iterator
from typing import Any, TextIO

from pydantic import ValidationError

from clearinghouse.errors import InputError
from clearinghouse.hashing.models import BankEntry
from clearinghouse.hashing.schemas import EntryIn, ImportFormatError, RowError, error_reason, split
from clearinghouse.validation import is_ascii_number

HASH_COLUMNS = ("md5", "sha1", "sha256", "pdq")
COLUMNS = (*HASH_COLUMNS, "pdq_quality", "series", "category", "victim_identified", "added_at", "attributes")
SEPARATORS = (",", ";", "\t")
MAX_LINE = 16 << 20
"""Longest line read, in characters (the csv module's own limit refuses a field of more than 128 KiB anyway)."""
_TRUE = {"true", "yes", "y", "1"}
_FALSE = {"false", "no", "n", "0"}


def read(stream: TextIO) -> Iterator[EntryIn | RowError]:
    """Each row of a CSV text as it is read: an entry, or a refusal with its line. :class:`ImportFormatError`
    (on the first row asked for) when the header is unusable."""
    lines = _lines(stream)
    header_line = next(lines, "")
    reader = csv.reader(itertools.chain([header_line], lines), delimiter=_separator(header_line))
    try:
        header = next(reader, None)
    except csv.Error as error:
        raise ImportFormatError(1, f"not readable as CSV: {error}") from error
    if not header:
        raise ImportFormatError(1, "empty file: expected a header row")
    names = [name.strip().lower() for name in header]
    if not any(name in HASH_COLUMNS for name in names):
        expected = f"expected one of {', '.join(HASH_COLUMNS)}, separated by commas, semicolons or tabs"
        raise ImportFormatError(1, f"the header names no hash column; {expected}")
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ImportFormatError(1, f"repeated column(s) in the header: {', '.join(duplicates)}")
    start = reader.line_num + 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as error:
            yield RowError(line=start, reason=f"not readable as CSV: {error}")
            start = reader.line_num + 1
            continue
        line, start = start, reader.line_num + 1
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(names):
            yield RowError(line=line, reason=f"expected {len(names)} fields, found {len(row)}")
            continue
        try:
            yield entry_from_row(dict(zip(names, row, strict=True)), original=header)
        except (InputError, ValidationError, ValueError) as error:
            yield RowError(line=line, reason=error_reason(error))


def parse(text: str) -> tuple[list[EntryIn], list[RowError]]:
    """Entries of a CSV text held in memory, and the rows refused (:func:`read`)."""
    return split(read(io.StringIO(text, newline="")))


def _lines(stream: TextIO) -> Iterator[str]:
    """The lines of the text as it is read. A line longer than :data:`MAX_LINE` characters (text that is no CSV,
    such as JSON written on one line) is refused rather than read whole into memory."""
    number = 0
    while line := stream.readline(MAX_LINE):
        number += 1
        if len(line) == MAX_LINE and not line.endswith(("\n", "\r")):
            raise ImportFormatError(number, f"a line longer than {MAX_LINE >> 20} MB: not CSV text")
        yield line


def _separator(header: str) -> str:
    """The first of :data:`SEPARATORS` found in the header line (a comma when there is none: a single column).

    Spreadsheets save "CSV" with semicolons where the decimal mark is a comma, and tab-separated exports are
    common; a file separated otherwise than its header says is rare enough to go by the header."""
    return next((separator for separator in SEPARATORS if separator in header), ",")


def entry_from_row(row: dict[str, str], *, original: list[str] | None = None) -> EntryIn:
    """A bank entry from one row keyed by lower-case column name (errors name the column)."""
    hashes = {name: row[name].strip() for name in HASH_COLUMNS if row.get(name, "").strip()}
    if not hashes:
        raise InputError("md5", f"a row needs at least one of {', '.join(HASH_COLUMNS)}")
    attributes: dict[str, Any] = {}
    raw_attributes = row.get("attributes", "").strip()
    if raw_attributes:
        try:
            attributes = json.loads(raw_attributes, parse_constant=_not_json)
        except json.JSONDecodeError as error:
            raise InputError("attributes", f"not valid JSON ({error.msg})", raw_attributes) from error
        if not isinstance(attributes, dict):
            raise InputError("attributes", "must be a JSON object", raw_attributes)
    headers = {name.strip().lower(): name.strip() for name in original or row}
    for name, value in row.items():
        if name not in COLUMNS and value.strip():
            attributes[headers.get(name, name)] = value
    quality = row.get("pdq_quality", "").strip()
    if quality and "pdq" not in hashes:
        raise InputError("pdq_quality", "given without a pdq hash", quality)
    return EntryIn(
        hashes=hashes,
        pdq_quality=_quality(quality),
        series=row.get("series") or None,
        category=row.get("category") or None,
        victim_identified=_flag(row.get("victim_identified", "")),
        added_at=_timestamp(row.get("added_at", "")),
        attributes=attributes,
    )


def _not_json(constant: str) -> None:
    """Python's reader takes NaN and Infinity, which JSON has not: stored, they would make every export of the
    bank invalid JSON, and PostgreSQL refuses them."""
    raise InputError("attributes", f"{constant} is not a JSON value")


def _quality(text: str) -> int | None:
    # `int` alone would read "１２" (other scripts' digits) and fail on "abc" with a message naming no column.
    if not text:
        return None
    if not is_ascii_number(text) or int(text) > 100:
        raise InputError("pdq_quality", "expected a whole number from 0 to 100", text)
    return int(text)


def _flag(value: str) -> bool | None:
    text = value.strip().lower()
    if not text:
        return None
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise InputError("victim_identified", "expected true or false (or yes/no, 1/0, or empty)", value)


def _timestamp(value: str) -> dt.datetime | None:
    text = value.strip()
    if not text:
        return None
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError as error:
        raise InputError("added_at", "expected an ISO 8601 date and time with a time zone", value) from error
    if parsed.tzinfo is None:
        raise InputError("added_at", "must carry a time zone (for example 2024-05-01T12:00:00+00:00)", value)
    try:
        return parsed.astimezone(dt.UTC)
    except OverflowError:
        raise InputError("added_at", "is out of range", value) from None


def export(entries: Iterable[BankEntry]) -> str:
    """CSV text of the entries, with every column of :data:`COLUMNS`."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for entry in entries:
        values = {row.hash_type: row for row in entry.hashes}
        pdq = values.get("pdq")
        writer.writerow(
            [
                *(values[name].value if name in values else "" for name in HASH_COLUMNS),
                "" if pdq is None or pdq.quality is None else pdq.quality,
                entry.series or "",
                entry.category or "",
                "" if entry.victim_identified is None else str(entry.victim_identified).lower(),
                entry.added_at.astimezone(dt.UTC).isoformat(),
                json.dumps(entry.attributes, sort_keys=True, ensure_ascii=False) if entry.attributes else "",
            ]
        )
    return out.getvalue()
