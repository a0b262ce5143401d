"""Bank files in and out: choosing the format (VICS JSON or CSV), reading a file into a bank, writing one.

Files are read as they stream in, a record at a time: a bank file or a manifest of millions of hashes takes no
more memory than one of a thousand.
"""

from __future__ import annotations

import codecs
import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from sqlalchemy.orm import Session

from clearinghouse.db.engine import optimize
from clearinghouse.errors import InputError
from clearinghouse.hashing import csvio, service, vics
from clearinghouse.hashing.kinds import FileFormat
from clearinghouse.hashing.models import HashBank
from clearinghouse.hashing.schemas import EntryIn, ImportFormatError, ImportReport, Refusals, RowError

_OPENING = 4096
"""Bytes of a file's start looked at to tell its format."""
_SCAN = 1 << 20
"""Bytes read at a time when looking for the first that is not UTF-8."""


def read(stream: TextIO, file_format: FileFormat) -> Iterator[EntryIn | RowError]:
    """The records of a bank file (or a manifest) as they are read: entries, and refused records with their
    line. ``ImportFormatError`` refuses the whole file, where the fault is found."""
    if file_format is FileFormat.VICS:
        return vics.read(stream)
    return csvio.read(stream)


class TextFile(io.TextIOWrapper):
    """A bank file's (or a manifest's) text as it is read (`open_text`)."""

    def __init__(self, raw: io.BufferedReader) -> None:
        super().__init__(raw, encoding="utf-8-sig", newline="")
        self._raw = raw

    def opening(self) -> str:
        """The start of the text, without reading it (taken before any is read): enough to tell JSON from CSV."""
        return self._raw.peek(_OPENING)[:_OPENING].decode("utf-8", "replace").removeprefix("\ufeff")


@contextmanager
def open_text(path: Path) -> Iterator[TextFile]:
    """A bank file's (or a manifest's) text, for the block to read: UTF-8, a byte-order mark allowed.

    Text that is not UTF-8 is an :class:`ImportFormatError` naming the line of the first byte that is not
    (UTF-16, as some Windows tools save, is named as such), raised when the block reads that far; a file that
    cannot be read is an :class:`InputError` naming it."""
    try:
        raw = path.open("rb")
    except OSError as error:  # no permission, removed since it was named
        raise InputError(str(path), error.strerror or str(error)) from error
    with raw:
        try:
            if raw.peek(2)[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
                raise ImportFormatError(1, "UTF-16 text, not UTF-8: save it as UTF-8")
            yield TextFile(raw)
        except UnicodeDecodeError:
            raise _not_utf8(path) from None
        except OSError as error:  # a read error
            raise InputError(str(path), error.strerror or str(error)) from error


def _not_utf8(path: Path) -> ImportFormatError:
    """Where the first byte that is not UTF-8 is, as a refusal: read again for it (the decoder that failed
    knew only its own chunk), a chunk at a time."""
    offset, line, pending = 0, 1, b""
    with path.open("rb") as raw:
        while chunk := raw.read(_SCAN):
            data = pending + chunk
            try:
                data.decode("utf-8")
                pending = b""
            except UnicodeDecodeError as error:
                if error.end < len(data) or len(chunk) < _SCAN:  # not a character cut by the chunk's end
                    line += data.count(b"\n", 0, error.start)
                    return ImportFormatError(line, f"not UTF-8 text (byte {offset + error.start})")
                data, pending = data[: error.start], data[error.start :]
            line += data.count(b"\n")
            offset += len(data)
    return ImportFormatError(line, f"not UTF-8 text (byte {offset})")  # cut short at the end of the file


def import_file(*, session: Session, bank: HashBank, path: Path, file_format: FileFormat | None = None) -> ImportReport:
    """Load a bank file into ``bank`` as it is read: good records are added or updated, bad ones reported by
    line (the first :data:`~clearinghouse.hashing.schemas.MAX_LISTED`, and how many in all).

    A malformed file raises where the fault is found, perhaps after records were added: the caller's unit of
    work, rolled back by the error, leaves the bank unchanged.
    """
    chosen = file_format or FileFormat.of(path)
    refusals = Refusals()
    with open_text(path) as stream:
        added, updated = service.add_entries(session=session, bank=bank, entries=refusals.sift(read(stream, chosen)))
    optimize(session)
    return ImportReport(
        bank=bank.name,
        format=chosen.value,
        added=added,
        updated=updated,
        refused=refusals.count,
        errors=refusals.listed,
    )


def export_text(*, session: Session, bank: HashBank, file_format: FileFormat) -> tuple[str, int]:
    """A bank as the text of a file of ``file_format``, and how many entries the format could not carry."""
    entries = service.iter_entries(session=session, bank=bank)
    if file_format is FileFormat.VICS:
        document, skipped = vics.export(entries)
        return json.dumps(document, indent=2, ensure_ascii=False) + "\n", skipped
    return csvio.export(entries), 0
