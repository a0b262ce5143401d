"""Body limits at the HTTP layer: a declared or streamed body past the limit is refused without being buffered."""

from __future__ import annotations

import asyncio
import base64
import select
import socket
import time

import pytest
from starlette.requests import Request
from starlette.types import Message

from clearinghouse.config import Settings
from clearinghouse.tipline.xmlsafe import ResponseCode
from clearinghouse.web.bodies import BodyRefused, read_bounded, read_form
from tests.web.live import LiveServer

FIFTY_MB = 50 * 1024 * 1024


def _basic(credentials: tuple[str, str]) -> str:
    return "Basic " + base64.b64encode(":".join(credentials).encode()).decode()


def _read_response(sock: socket.socket, timeout: float = 20) -> bytes:
    data = b""
    deadline = time.monotonic() + timeout
    while b"</reportResponse>" not in data and time.monotonic() < deadline:
        ready, _, _ = select.select([sock], [], [], 0.5)
        if ready:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    return data


def test_the_xml_limit_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().xml_max_bytes == 10 * 1024 * 1024
    monkeypatch.setenv("CLEARINGHOUSE_XML_MAX_BYTES", "4096")
    assert Settings().xml_max_bytes == 4096


def test_a_declared_50_mb_body_is_answered_before_it_is_sent(live: LiveServer, credentials: tuple[str, str]) -> None:
    with socket.create_connection((live.host, live.port), timeout=20) as sock:
        head = (
            f"POST /ispws/submit HTTP/1.1\r\nHost: {live.host}\r\nAuthorization: {_basic(credentials)}\r\n"
            f"Content-Type: text/xml; charset=utf-8\r\nContent-Length: {FIFTY_MB}\r\n\r\n"
        )
        sock.sendall(head.encode() + b"<report>")  # and not one byte more of the 50 MB
        answer = _read_response(sock)
    assert answer.startswith(b"HTTP/1.1 200")
    assert b"request-id:" in answer.lower()
    assert f"<responseCode>{int(ResponseCode.INVALID_REQUEST)}</responseCode>".encode() in answer
    assert f"request body is {FIFTY_MB} bytes".encode() in answer


def test_a_chunked_body_is_read_only_past_the_limit(live: LiveServer, credentials: tuple[str, str]) -> None:
    limit = 256 * 1024
    live.context.limits.xml_max_bytes = limit
    chunk = b"<!-- " + b"x" * 65500 + b" -->"
    sent = 0
    with socket.create_connection((live.host, live.port), timeout=20) as sock:
        head = (
            f"POST /ispws/submit HTTP/1.1\r\nHost: {live.host}\r\nAuthorization: {_basic(credentials)}\r\n"
            "Content-Type: text/xml; charset=utf-8\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        sock.sendall(head.encode())
        answer = b""
        # Stream up to 50 MB, stopping as soon as the server has answered.
        while sent < FIFTY_MB:
            ready, _, _ = select.select([sock], [], [], 0)
            if ready:
                break
            try:
                sock.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(chunk)
        answer = _read_response(sock)
    assert f"<responseCode>{int(ResponseCode.INVALID_REQUEST)}</responseCode>".encode() in answer
    assert f"more than {limit} bytes".encode() in answer
    # The server stopped reading at the limit; the client got its answer long before 50 MB went out.
    assert sent < 8 * 1024 * 1024


def _request(chunks: list[bytes], headers: dict[str, str], consumed: list[int]) -> Request:
    pending = list(chunks)

    async def receive() -> Message:
        if not pending:
            return {"type": "http.request", "body": b"", "more_body": False}
        body = pending.pop(0)
        consumed.append(len(body))
        return {"type": "http.request", "body": body, "more_body": bool(pending)}

    raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    return Request({"type": "http", "method": "POST", "path": "/", "headers": raw}, receive)


def test_the_reader_stops_one_chunk_past_the_limit() -> None:
    consumed: list[int] = []
    chunks = [b"a" * 1000] * 1000  # a 1 MB body, offered 1000 bytes at a time
    request = _request(chunks, {}, consumed)
    with pytest.raises(BodyRefused) as refused:
        asyncio.run(read_bounded(request, 4096))
    assert refused.value.too_large
    assert sum(consumed) <= 4096 + 1000
    declared = _request(chunks, {"Content-Length": str(10**6)}, consumed := [])
    with pytest.raises(BodyRefused):
        asyncio.run(read_bounded(declared, 4096))
    assert consumed == []  # refused by its declared length, before any read


def test_a_multipart_form_is_parsed_in_memory_and_bounded() -> None:
    boundary = "b0undary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="id"\r\n\r\n42\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.bin"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + b"\x00\x01payload"
        + f"\r\n--{boundary}--\r\n".encode()
    )
    headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    form = asyncio.run(read_form(_request([body[:50], body[50:]], headers, []), 1024))
    assert form.fields == {"id": "42"}
    assert [(part.name, part.filename, bytes(part.data)) for part in form.files] == [
        ("file", "a.bin", b"\x00\x01payload")
    ]
    with pytest.raises(BodyRefused):
        asyncio.run(read_form(_request([body], headers, []), 64))
    with pytest.raises(BodyRefused, match="closing boundary"):
        asyncio.run(read_form(_request([body[:-20]], headers, []), 1024))


def test_an_upload_over_its_limit_is_refused(live: LiveServer, credentials: tuple[str, str]) -> None:
    import httpx

    live.context.limits.upload_max_bytes = 100_000
    with httpx.Client(base_url=live.ispws, auth=credentials) as http:
        response = http.post("upload", data={"id": "1"}, files={"file": ("big.bin", b"z" * 200_000)})
    assert response.status_code == 200
    assert b"<responseCode>4000</responseCode>" in response.content
