"""A large JSON text read as it streams in: the members of an object and the elements of an array one at a time,
each with the line where it starts, holding no more of the text than the value being read and a chunk.

Values are decoded by the standard library's C scanner (`json.JSONDecoder.raw_decode`), so they, and the
reasons given for text that is not JSON, are those of `json.loads`; what this adds is the walk through the
containers the caller streams, and lines and columns counted in the whole text.

Streaming parsers such as ijson were weighed: their C backend (yajl) refuses NaN and Infinity for the whole file
(a VICS file only refuses the record holding one) and tells no position, so neither a bad record's line nor a
syntax error's could be given.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import Any, TextIO

from clearinghouse.hashing.schemas import ImportFormatError

CHUNK = 1 << 20
"""Characters read at a time."""
MAX_VALUE = 64 << 20
"""Longest value read whole, in characters (a VICS Media entry is a few hundred): a longer one is refused rather
than held in memory."""
_SPACE = re.compile(r"[ \t\n\r]*")
_CUT_SHORT = 16
"""How close to the end of the text read so far a decoding error may be caused by the text not read yet (the
longest token cut short, ``-Infinity``, has 9 characters)."""


class JsonStream:
    """A JSON text read forward. `peek` looks at the next character; `value` reads a value whole; `members` and
    `items` walk an object or an array whose values the caller reads (or walks) one by one."""

    def __init__(self, stream: TextIO, *, parse_constant: Callable[[str], Any] | None = None) -> None:
        self._stream = stream
        self._decoder = json.JSONDecoder(parse_constant=parse_constant)
        self._text = ""
        self._pos = 0
        self._mark = 0
        self._mark_line = 1
        """The line of ``_text[_mark]``: counted forward as the text is read, never from the start again."""
        self._column = 0
        """Characters of the line of ``_text[0]`` that come before it."""
        self._end = False

    def peek(self) -> str:
        """The next character that is not white space, not consumed ("" at the end of the text)."""
        while True:
            self._pos = _skip(self._text, self._pos)
            if self._pos < len(self._text):
                return self._text[self._pos]
            if not self._more():
                return ""

    def line(self) -> int:
        """The line of the next character (after `peek`, the start of the next value)."""
        self._mark_line += self._text.count("\n", self._mark, self._pos)
        self._mark = self._pos
        return self._mark_line

    def value(self) -> Any:
        """The next value, read whole."""
        self.peek()
        while True:
            try:
                value, end = self._decoder.raw_decode(self._text, self._pos)
            except json.JSONDecodeError as error:
                if self._cut_short(error) and self._more():
                    continue
                raise self.error(error.msg, error.pos) from None
            if end == len(self._text) and self._more():  # a number may go on in the text not read yet
                continue
            self._pos = end
            return value

    def members(self) -> Iterator[str]:
        """The keys of the object that comes next (its ``{`` seen by `peek`), in order. The caller reads each
        member's value before asking for the next key."""
        self._pos += 1
        if self.peek() == "}":
            self._pos += 1
            return
        while True:
            if self.peek() != '"':
                raise self.error("Expecting property name enclosed in double quotes")
            key = self.value()
            if self.peek() != ":":
                raise self.error("Expecting ':' delimiter")
            self._pos += 1
            yield key
            if self._delimiter("}"):
                return

    def items(self) -> Iterator[int]:
        """The line where each element of the array that comes next (its ``[`` seen by `peek`) starts. The caller
        reads each element before asking for the next."""
        self._pos += 1
        if self.peek() == "]":
            self._pos += 1
            return
        while True:
            self.peek()
            yield self.line()
            if self._delimiter("]"):
                return
            if self.peek() in ("]", ""):
                raise self.error("Expecting value")

    def end(self) -> None:
        """Nothing but white space may follow the document."""
        if self.peek():
            raise self.error("Extra data")

    def error(self, message: str, pos: int | None = None) -> ImportFormatError:
        """The text refused at ``pos`` (the next character by default), with its line and column."""
        at = self._pos if pos is None else pos
        line = self._mark_line + self._text.count("\n", self._mark, at)
        newline = self._text.rfind("\n", 0, at)
        column = at - newline if newline >= 0 else self._column + at + 1
        return ImportFormatError(line, f"not valid JSON: {message} (column {column})")

    def _delimiter(self, closing: str) -> bool:
        """Past the ``,`` after a member or an element (False) or the container's end (True)."""
        following = self.peek()
        if following not in (",", closing):
            raise self.error("Expecting ',' delimiter")
        self._pos += 1
        return following == closing

    def _cut_short(self, error: json.JSONDecodeError) -> bool:
        # A value cut by the end of the text read so far fails at that end, or as a string never closed.
        return not self._end and (
            error.pos >= len(self._text) - _CUT_SHORT or error.msg.startswith("Unterminated string")
        )

    def _more(self) -> bool:
        """Read on, dropping what has been consumed; False at the end of the text. A value being read that grows
        long is read in ever larger pieces, so that decoding it again each time stays linear."""
        if self._end:
            return False
        pending = len(self._text) - self._pos
        if pending > MAX_VALUE:
            raise ImportFormatError(self.line(), f"a value longer than {MAX_VALUE >> 20} MB of text")
        chunk = self._stream.read(max(CHUNK, pending))
        if not chunk:
            self._end = True
            return False
        self.line()
        newline = self._text.rfind("\n", 0, self._pos)
        self._column = self._pos - newline - 1 if newline >= 0 else self._column + self._pos
        self._text = self._text[self._pos :] + chunk
        self._pos = self._mark = 0
        return True


def _skip(text: str, pos: int) -> int:
    found = _SPACE.match(text, pos)
    assert found is not None  # the pattern matches the empty text too
    return found.end()
