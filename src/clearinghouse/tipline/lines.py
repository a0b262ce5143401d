"""NDJSON as it arrives: a byte stream in pieces of any size, split into numbered lines, none kept longer than
one report may be."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

MAX_LINE_BYTES = 10 * 1024 * 1024
"""Longest line taken: one report, as long as a report document may be through the other ways in (the default
`xml_max_bytes`). A longer line is refused without being parsed, and `LineSplitter` keeps no more of it than
this, so that a file of one endless line cannot fill the memory."""
TOO_LONG = f"is longer than {MAX_LINE_BYTES:,} bytes, the most one report may take; split the report's content"
BOM = b"\xef\xbb\xbf"


class LineSplitter:
    """Splits a byte stream arriving in arbitrary pieces into numbered, non-blank lines (1-based numbers).

    The pieces of an unfinished line are kept apart and joined once, when its newline arrives: appending each
    piece to the bytes so far copied a long line again for every piece (a 64 MB line took seconds). Of a line
    longer than `MAX_LINE_BYTES` only the first `MAX_LINE_BYTES` + 1 bytes are kept: enough for `bulk.parse_line` to
    refuse it, and no more memory than that however long it goes on.
    """

    def __init__(self) -> None:
        self.number = 0
        self.pending: list[bytes] = []
        """The pieces of the line not finished yet (none empty), at most `MAX_LINE_BYTES` + 1 bytes in all."""
        self.kept = 0
        """How many bytes `pending` holds."""

    def feed(self, chunk: bytes) -> list[tuple[int, bytes]]:
        """The lines completed by ``chunk`` (a UTF-8 byte order mark at the very start is dropped)."""
        if self.number == 0 and not self.pending and chunk.startswith(BOM):
            chunk = chunk[len(BOM) :]
        if b"\n" not in chunk:
            self._keep(chunk)
            return []
        if self.pending:
            end = chunk.index(b"\n")
            self._keep(chunk[:end])
            chunk = b"".join(self.pending) + chunk[end:]
        pieces = chunk.split(b"\n")
        rest = pieces.pop()
        self.pending, self.kept = [], 0
        self._keep(rest)
        found = []
        for piece in pieces:
            self.number += 1
            if piece.strip():
                found.append((self.number, piece[: MAX_LINE_BYTES + 1]))
        return found

    def _keep(self, piece: bytes) -> None:
        room = MAX_LINE_BYTES + 1 - self.kept
        if piece and room > 0:
            piece = piece[:room]
            self.pending.append(piece)
            self.kept += len(piece)

    def finish(self) -> list[tuple[int, bytes]]:
        """The last line, if the stream did not end with a newline."""
        rest, self.pending, self.kept = b"".join(self.pending), [], 0
        if not rest.strip():
            return []
        self.number += 1
        return [(self.number, rest)]


def numbered_lines(stream: Iterable[bytes]) -> Iterator[tuple[int, bytes]]:
    """Non-blank lines with their 1-based numbers, from lines or from arbitrary chunks of a byte stream."""
    splitter = LineSplitter()
    for chunk in stream:
        yield from splitter.feed(chunk)
    yield from splitter.finish()
