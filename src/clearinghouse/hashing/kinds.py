"""The kinds of bank and the formats of bank files, as plain enums: the commands name them in their options, and
reading those must not load the store's models (SQLAlchemy) on every start of `clearinghouse`."""

from __future__ import annotations

import enum
from pathlib import Path

from clearinghouse.errors import InputError


class BankKind(enum.StrEnum):
    """What a bank's hashes mean when a reported file matches them."""

    KNOWN_ABUSE = "known_abuse"
    """Content already confirmed as child sexual abuse material."""
    IDENTIFIED_SERIES = "identified_series"
    """Content of a series whose child has been identified (victim identification uses these)."""
    ALLOW_LIST = "allow_list"
    """Benign content that must never be reported as a match (it suppresses matches of the same file)."""


class FileFormat(enum.StrEnum):
    """Formats of bank files."""

    VICS = "vics"
    CSV = "csv"

    @classmethod
    def of(cls, path: Path) -> FileFormat:
        """The format a file's name implies (`SUFFIXES`)."""
        found = SUFFIXES.get(path.suffix.lower())
        if found is None:
            raise InputError("format", "cannot tell the format from the file name; give vics or csv", path.name)
        return found


SUFFIXES = {".json": FileFormat.VICS, ".csv": FileFormat.CSV}
"""The format of a bank file by its extension: ``.json`` is VICS, ``.csv`` is CSV."""
