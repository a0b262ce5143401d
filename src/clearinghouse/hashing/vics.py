"""Project VIC "VICS" JSON: reading hash sets into bank entries and writing a bank back out.

Accepted shapes: an OData document whose ``value`` list holds Media entries (VICS 1.x and 2.0 ``#Media``), or
Case entries each with a ``Media`` list (VICS 2.0 ``#Cases``). Of each Media entry, ``MD5``, ``SHA1``,
``Category``, ``Series`` and ``VictimIdentified`` become columns; every other field (``MediaID``,
``MediaSize``, ``DateUpdated``, ``MediaFiles``, ...) and any of those five given as null is kept verbatim in
the entry's attributes, so an export gives back each field that was imported. Digests are written in upper
case, as Project VIC tools write them.

A file that is not JSON, or not shaped as above, is refused whole with the line of the problem. A Media
entry that is wrong (no usable MD5 or SHA1, a category that is not a whole number from 0 to 99, ...) is reported
with the line where it starts, and the other entries still load.
"""

from __future__ import annotations

import json
import json.decoder
import json.scanner
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from clearinghouse.errors import InputError
from clearinghouse.hashing.models import BankEntry
from clearinghouse.hashing.schemas import EntryIn, ImportFormatError, RowError, error_reason, vics_category

MEDIA_CONTEXT = "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/Default/$metadata#Media"
"""OData context of the documents written here: VICS 2.0, a list of Media entries."""
_COLUMNS = {"MD5": "md5", "SHA1": "sha1"}
_METADATA = ("Category", "Series", "VictimIdentified")


@dataclass(frozen=True)
class _NotJson:
    """Where the text has NaN, Infinity or -Infinity: Python's reader takes them, JSON has not. Stored, they would
    make every export of the bank invalid JSON (and PostgreSQL refuses them), so the entry holding one is refused."""

    constant: str


def _not_json_in(value: Any) -> _NotJson | None:
    """The first :class:`_NotJson` anywhere in ``value`` (walked without recursion: nesting may be deep)."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, _NotJson):
            return item
        if isinstance(item, dict):
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return None


class _LocatedList(list[Any]):
    """A JSON array that remembers the offset in the text where each of its elements starts."""

    offsets: list[int]


def parse(text: str) -> tuple[list[EntryIn], list[RowError]]:
    """Entries of a VICS document and the Media entries refused; :class:`ImportFormatError` if malformed."""
    try:
        document = json.loads(text, parse_constant=_NotJson)
    except json.JSONDecodeError as error:
        raise ImportFormatError(error.lineno, f"not valid JSON: {error.msg} (column {error.colno})") from error
    media = _media_of(document, text)
    entries: list[EntryIn] = []
    refused: list[tuple[int, str]] = []
    for position, record in enumerate(media):
        try:
            entries.append(entry_from_media(record))
        except (InputError, ValidationError, ValueError) as error:
            refused.append((position, error_reason(error)))
    if not refused:
        return entries, []
    lines = _media_lines(text)
    return entries, [RowError(line=lines[position], reason=reason) for position, reason in refused]


def _media_of(document: Any, text: str) -> list[Any]:
    if not isinstance(document, dict) or not isinstance(document.get("value"), list):
        raise ImportFormatError(1, "expected a JSON object with a 'value' list of Media or Case entries (VICS)")
    values = document["value"]
    if not any(isinstance(item, dict) and "Media" in item for item in values):
        return list(values)
    media: list[Any] = []
    for number, case in enumerate(values):
        if not isinstance(case, dict) or not isinstance(case.get("Media"), list):
            line = _lines_of(text, [_locate(text)["value"].offsets[number]])[0]
            raise ImportFormatError(line, "a Case entry needs a 'Media' list")
        media.extend(case["Media"])
    return media


def entry_from_media(record: Any) -> EntryIn:
    """A bank entry from one Media entry (errors name the field)."""
    if not isinstance(record, dict):
        raise InputError("Media", "each entry must be a JSON object", type(record).__name__)
    hashes: dict[str, str] = {}
    attributes: dict[str, Any] = {}
    for key, value in record.items():
        if (found := _not_json_in(value)) is not None:
            raise InputError(key, f"{found.constant} is not a JSON value")
        if key in _COLUMNS and value not in (None, ""):
            if not isinstance(value, str):
                raise InputError(key, "must be a string of hexadecimal digits", value)
            hashes[_COLUMNS[key]] = value
        elif key in _METADATA and value is not None:
            continue  # a column, read below
        else:
            attributes[key] = value  # kept as given, nulls and empty digests included
    if not hashes:
        raise InputError("MD5", "a Media entry needs an MD5 or a SHA1")
    category = vics_category("Category", record.get("Category"))
    victim = record.get("VictimIdentified")
    if victim is not None and not isinstance(victim, bool):
        raise InputError("VictimIdentified", "must be true, false or null", victim)
    series = record.get("Series")
    if series is not None and not isinstance(series, str):
        raise InputError("Series", "must be a string", series)
    return EntryIn(
        hashes=hashes,
        category=category,
        series=series,
        victim_identified=victim,
        attributes=attributes,
    )


def media_from_entry(entry: BankEntry) -> dict[str, Any] | None:
    """The Media entry of a bank entry, or None when it has neither MD5 nor SHA1 (VICS needs one)."""
    values = {row.hash_type: row.value for row in entry.hashes}
    if "md5" not in values and "sha1" not in values:
        return None
    attributes = dict(entry.attributes or {})
    media: dict[str, Any] = {}
    if "MediaID" in attributes:
        media["MediaID"] = attributes.pop("MediaID")
    if entry.category is not None:
        media["Category"] = int(entry.category) if entry.category.isdigit() else entry.category
    for key, name in _COLUMNS.items():
        if name in values:
            media[key] = values[name].upper()
    if entry.series is not None:
        media["Series"] = entry.series
    if entry.victim_identified is not None:
        media["VictimIdentified"] = entry.victim_identified
    media.update(attributes)
    return media


def export(entries: Iterable[BankEntry]) -> tuple[dict[str, Any], int]:
    """A VICS 2.0 document of the entries, and how many entries were left out for want of MD5 or SHA1."""
    media: list[dict[str, Any]] = []
    skipped = 0
    for entry in entries:
        record = media_from_entry(entry)
        if record is None:
            skipped += 1
        else:
            media.append(record)
    return {"@odata.context": MEDIA_CONTEXT, "value": media}, skipped


def _locate(text: str) -> Any:
    """The document parsed again, each array knowing where its elements start (only done to report lines)."""
    decoder = json.JSONDecoder()
    parse_json_array: Any = getattr(json.decoder, "JSONArray")  # noqa: B009 - not in the type stubs
    make_python_scanner: Any = getattr(json.scanner, "py_make_scanner")  # noqa: B009

    def parse_array(s_and_end: tuple[str, int], scan_once: Any, *args: Any) -> tuple[_LocatedList, int]:
        offsets: list[int] = []

        def scan_element(string: str, index: int) -> Any:
            offsets.append(index)
            return scan_once(string, index)

        found, end = parse_json_array(s_and_end, scan_element, *args)
        located = _LocatedList(found)
        located.offsets = offsets
        return located, end

    # The pure-Python scanner calls ``parse_array`` for every array; the C scanner does not.
    setattr(decoder, "parse_array", parse_array)  # noqa: B010
    setattr(decoder, "scan_once", make_python_scanner(decoder))  # noqa: B010
    return decoder.decode(text)


def _lines_of(text: str, offsets: list[int]) -> list[int]:
    """The 1-based line of each character offset."""
    lines: dict[int, int] = {}
    line, previous = 1, 0
    for offset in sorted(set(offsets)):
        line += text.count("\n", previous, offset)
        lines[offset], previous = line, offset
    return [lines[offset] for offset in offsets]


def _media_lines(text: str) -> list[int]:
    """The line where each Media entry starts, in document order."""
    values = _locate(text)["value"]
    if any(isinstance(item, dict) and "Media" in item for item in values):
        offsets = [offset for case in values for offset in case["Media"].offsets]
    else:
        offsets = values.offsets
    return _lines_of(text, offsets)
