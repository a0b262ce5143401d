"""Request bodies read with a hard size limit, and forms parsed in memory (never spooled to a file).

The limit is enforced twice: a declared Content-Length over the limit is refused before a byte of the body is
read, and a body without one (chunked) is read only until it passes the limit, so an endless or 50 MB body is
never buffered whole. Multipart uploads are parsed as they stream in, straight into memory: Starlette's own
form parser spools files over 1 MB to a temporary file, which would put uploaded content on disk.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.datastructures import Headers
from starlette.requests import Request

from clearinghouse.validation import is_ascii_number

# The multipart parser's warnings quote bytes of the body it failed on; those bytes may be uploaded content.
logging.getLogger("python_multipart").setLevel(logging.ERROR)

MAX_FORM_FIELDS = 64
MAX_PARTS = 16


class BodyRefused(Exception):
    """A request body we will not read or cannot parse, with the HTTP status a problem document answers it with."""

    def __init__(self, message: str, *, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status

    @property
    def too_large(self) -> bool:
        """Whether the body passed its size limit."""
        return self.status == 413


def declared_length(headers: Headers) -> int | None:
    """The Content-Length the client declared, if any; a malformed one is refused."""
    value = headers.get("content-length")
    if value is None:
        return None
    if not is_ascii_number(value.strip()):
        raise BodyRefused("Content-Length is not a number")
    return int(value)


def _too_large(limit: int, declared: int | None = None) -> BodyRefused:
    size = f"{declared} bytes" if declared is not None else f"more than {limit} bytes"
    return BodyRefused(f"request body is {size}; the limit is {limit} bytes", status=413)


def refuse_encoded(headers: Headers) -> None:
    """Refuse a compressed body (`Content-Encoding` other than identity): read as it is, gzip was answered as
    malformed XML, invalid JSON or UTF-16 text, never naming what was wrong."""
    encoding = headers.get("content-encoding", "").strip().lower()
    if encoding not in ("", "identity"):
        message = f"Content-Encoding {encoding[:40]!r} is not accepted: send the body uncompressed"
        raise BodyRefused(message, status=415)


async def bounded_chunks(request: Request, limit: int) -> AsyncIterator[bytes]:
    """The body's chunks, refusing it once more than `limit` bytes have arrived (or are declared), or if it is
    compressed."""
    refuse_encoded(request.headers)
    declared = declared_length(request.headers)
    if declared is not None and declared > limit:
        raise _too_large(limit, declared)
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > limit:
            raise _too_large(limit)
        if chunk:
            yield chunk


async def read_bounded(request: Request, limit: int) -> bytes:
    """The whole body, at most `limit` bytes."""
    buffer = bytearray()
    async for chunk in bounded_chunks(request, limit):
        buffer += chunk
    return bytes(buffer)


def parse_urlencoded(body: bytes) -> dict[str, str]:
    """An application/x-www-form-urlencoded body; the first value of a repeated field wins."""
    try:
        # Strict: an escape of another encoding (Latin-1's %E9) was read as U+FFFD, and kept.
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS, errors="strict")
    except UnicodeDecodeError:
        raise BodyRefused("the form is not UTF-8 text (its %-escapes included): send it as UTF-8") from None
    except ValueError:  # the only other refusal of parse_qsl when not strict_parsing
        raise BodyRefused(f"a form may have at most {MAX_FORM_FIELDS} fields") from None
    fields: dict[str, str] = {}
    for name, value in pairs:
        fields.setdefault(name, value)
    return fields


@dataclass
class Part:
    """One part of a multipart form, held in memory."""

    name: str
    filename: str | None
    data: bytearray = field(default_factory=bytearray)


@dataclass
class Form:
    """A parsed form: text fields, and file parts (those with a filename) kept apart."""

    fields: dict[str, str] = field(default_factory=dict)
    files: list[Part] = field(default_factory=list)


class _PartCollector:
    """Callbacks for python-multipart's streaming parser that assemble parts in memory."""

    def __init__(self) -> None:
        self.parts: list[Part] = []
        self._header_field = bytearray()
        self._header_value = bytearray()
        self._headers: dict[bytes, bytes] = {}
        self._current: Part | None = None
        self.ended = False

    def on_end(self) -> None:
        self.ended = True

    def on_part_begin(self) -> None:
        self._headers = {}
        if len(self.parts) >= MAX_PARTS:
            raise BodyRefused(f"a form may have at most {MAX_PARTS} parts")

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_field += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def on_header_end(self) -> None:
        self._headers[bytes(self._header_field).strip().lower()] = bytes(self._header_value).strip()
        self._header_field.clear()
        self._header_value.clear()

    def on_headers_finished(self) -> None:
        disposition, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        name = options.get(b"name")
        if disposition != b"form-data" or name is None:
            raise BodyRefused("every form part needs Content-Disposition: form-data with a name")
        filename = options.get(b"filename")
        self._current = Part(
            name=name.decode("utf-8", "replace"),
            filename=None if filename is None else filename.decode("utf-8", "replace"),
        )
        self.parts.append(self._current)

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._current is not None:
            self._current.data += data[start:end]


async def read_form(request: Request, limit: int) -> Form:
    """A urlencoded or multipart form of at most `limit` bytes, parsed in memory."""
    content_type, options = parse_options_header(request.headers.get("content-type", ""))
    if content_type != b"multipart/form-data":
        return Form(fields=parse_urlencoded(await read_bounded(request, limit)))
    boundary = options.get(b"boundary")
    if not boundary:
        raise BodyRefused("a multipart form needs a boundary")
    collector = _PartCollector()
    try:
        parser = MultipartParser(
            boundary,
            callbacks={
                "on_part_begin": collector.on_part_begin,
                "on_header_field": collector.on_header_field,
                "on_header_value": collector.on_header_value,
                "on_header_end": collector.on_header_end,
                "on_headers_finished": collector.on_headers_finished,
                "on_part_data": collector.on_part_data,
                "on_end": collector.on_end,
            },
        )
        async for chunk in bounded_chunks(request, limit):
            parser.write(chunk)
        parser.finalize()
    except (MultipartParseError, ValueError) as error:
        raise BodyRefused(f"the multipart form is malformed ({type(error).__name__})") from None
    if not collector.ended:
        # The parser accepts a body cut short; a truncated file would be hashed as if it were whole.
        raise BodyRefused("the multipart form ends before its closing boundary")
    form = Form()
    for part in collector.parts:
        if part.filename is not None:
            form.files.append(part)
            continue
        try:
            form.fields.setdefault(part.name, part.data.decode("utf-8"))
        except UnicodeDecodeError:
            raise BodyRefused(f"form field {part.name!r} is not UTF-8 text") from None
    return form
