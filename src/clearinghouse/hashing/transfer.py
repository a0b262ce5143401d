"""Bank files in and out: choosing the format (VICS JSON or CSV), reading a file into a bank, writing one."""

from __future__ import annotations

import codecs
import json
from pathlib import Path

from sqlalchemy.orm import Session

from clearinghouse.errors import InputError
from clearinghouse.hashing import csvio, service, vics
from clearinghouse.hashing.kinds import SUFFIXES as SUFFIXES  # re-exported: they were defined here once
from clearinghouse.hashing.kinds import FileFormat as FileFormat
from clearinghouse.hashing.models import HashBank
from clearinghouse.hashing.schemas import EntryIn, ImportFormatError, ImportReport, RowError


def parse(text: str, file_format: FileFormat) -> tuple[list[EntryIn], list[RowError]]:
    """Entries and refused records of a bank file's text; ``ImportFormatError`` refuses the whole file."""
    if file_format is FileFormat.VICS:
        return vics.parse(text)
    return csvio.parse(text)


def read_file(path: Path) -> str:
    """A bank file's (or a manifest's) text: UTF-8, a byte-order mark allowed. Text that is not UTF-8 is an
    :class:`ImportFormatError` naming the line of the first byte that is not (UTF-16, as some Windows tools
    save, is named as such); a file that cannot be read is an :class:`InputError` naming it."""
    try:
        data = path.read_bytes()
    except OSError as error:  # no permission, a read error, removed since it was named
        raise InputError(str(path), error.strerror or str(error)) from error
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise ImportFormatError(1, "UTF-16 text, not UTF-8: save it as UTF-8")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise ImportFormatError(line, f"not UTF-8 text (byte {error.start})") from None


def import_file(*, session: Session, bank: HashBank, path: Path, file_format: FileFormat | None = None) -> ImportReport:
    """Load a bank file into ``bank``: good records are added or updated, bad ones reported by line.

    A malformed file raises before anything is written, so the bank is unchanged.
    """
    chosen = file_format or FileFormat.of(path)
    entries, errors = parse(read_file(path), chosen)
    added, updated = service.add_entries(session=session, bank=bank, entries=entries)
    return ImportReport(bank=bank.name, format=chosen.value, added=added, updated=updated, errors=errors)


def export_text(*, session: Session, bank: HashBank, file_format: FileFormat) -> tuple[str, int]:
    """A bank as the text of a file of ``file_format``, and how many entries the format could not carry."""
    entries = service.iter_entries(session=session, bank=bank)
    if file_format is FileFormat.VICS:
        document, skipped = vics.export(entries)
        return json.dumps(document, indent=2, ensure_ascii=False) + "\n", skipped
    return csvio.export(entries), 0
