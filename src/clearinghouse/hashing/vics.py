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

import io
from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TextIO

from pydantic import ValidationError

from clearinghouse.errors import InputError
from clearinghouse.hashing.jsonstream import JsonStream
from clearinghouse.hashing.models import BankEntry
from clearinghouse.hashing.schemas import EntryIn, ImportFormatError, RowError, error_reason, split, vics_category

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


_SHAPE = "expected a JSON object with a 'value' list of Media or Case entries (VICS)"
_CASE = "a Case entry needs a 'Media' list"
_MIXED = "a Case entry (it has 'Media') among Media entries: a file lists one kind or the other"


def read(stream: TextIO) -> Iterator[EntryIn | RowError]:
    """Each Media entry of a VICS document as it is read: an entry, or a refusal with the line where it starts.

    A malformed document raises :class:`ImportFormatError` where the fault is found, so perhaps after entries:
    the caller's unit of work is rolled back by it."""
    for line, record in _media(JsonStream(stream, parse_constant=_NotJson)):
        try:
            yield entry_from_media(record)
        except (InputError, ValidationError, ValueError) as error:
            yield RowError(line=line, reason=error_reason(error))


def parse(text: str) -> tuple[list[EntryIn], list[RowError]]:
    """Entries of a VICS text held in memory, and the Media entries refused (:func:`read`)."""
    return split(read(io.StringIO(text, newline="")))


def _media(document: JsonStream) -> Iterator[tuple[int, Any]]:
    """(line, Media entry) for every Media entry of the document, in order."""
    first = document.peek()
    if first == "[":
        raise ImportFormatError(1, _SHAPE)
    if first != "{":
        document.value()  # refused as not JSON, or else as JSON of another shape
        raise ImportFormatError(1, _SHAPE)
    found = False
    for key in document.members():
        if key != "value":
            document.value()
        elif found:
            raise ImportFormatError(document.line(), "a second 'value' list: a document has one")
        elif document.peek() != "[":
            raise ImportFormatError(1, _SHAPE)
        else:
            found = True
            yield from _values(document)
    if not found:
        raise ImportFormatError(1, _SHAPE)
    document.end()


def _values(document: JsonStream) -> Iterator[tuple[int, Any]]:
    """The Media entries of the 'value' list. Its first element tells whether it lists Media entries or Cases
    (objects with a 'Media' list). A Case's Media entries are streamed, so that a case of millions of files is
    never one value in memory; a Media entry (a few hundred characters) is read whole."""
    cases: bool | None = None
    for line in document.items():
        if cases is None:
            cases = yield from _first(document, line)
        elif cases:
            yield from _case(document, line)
        else:
            record = document.value()
            if isinstance(record, dict) and "Media" in record:
                raise ImportFormatError(line, _MIXED)
            yield line, record


def _first(document: JsonStream, line: int) -> Generator[tuple[int, Any], None, bool]:
    """Read the first element of 'value'; whether it is a Case."""
    if document.peek() != "{":
        yield line, document.value()
        return False
    record = yield from _object(document, line)
    if record is None:
        return True
    yield line, record
    return False


def _case(document: JsonStream, line: int) -> Generator[tuple[int, Any], None, None]:
    """Read an element of 'value' after a first Case: the Media entries of this Case."""
    if document.peek() != "{":
        document.value()  # refused as not JSON if it is not, else as no Case
        raise ImportFormatError(line, _CASE)
    if (yield from _object(document, line)) is not None:
        raise ImportFormatError(line, _CASE)


def _object(document: JsonStream, line: int) -> Generator[tuple[int, Any], None, dict[str, Any] | None]:
    """Read an object of 'value' member by member: a Case's Media entries are yielded as they come and None is
    returned; an object without 'Media' (a Media entry) is returned."""
    members: dict[str, Any] = {}
    case = False
    for key in document.members():
        if key != "Media":
            members[key] = document.value()
            continue
        if case or document.peek() != "[":
            raise ImportFormatError(line, "a Case entry with two 'Media' lists" if case else _CASE)
        case = True
        for media_line in document.items():
            yield media_line, document.value()
    return None if case else members


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
