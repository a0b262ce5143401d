"""Throughput and latency of the platform interface over real HTTP on loopback.

A server process (`clearinghouse serve`, embedded SQLite store in a temporary folder) takes reports from 50
concurrent clients; each report is four calls: submit, upload (a 1 KB synthetic blob), fileinfo, finish
(fileinfo needs the file id an upload returns). Prints reports per second and p50/p99 latency per call and
per report. Figures only: nothing is asserted. Both processes share this machine's cores.

    .venv/bin/python bench/bench_ispws.py [--reports 5000] [--clients 50] [--workers CORES] [--client raw|httpx]

The defaults are the deployment the figures are quoted for: one server worker per core, and the minimal client
(httpx spends more CPU per request than the server, on the same cores).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from socket import socket

import httpx

REPORT = (
    b'<?xml version="1.0" encoding="UTF-8"?><report><incidentSummary>'
    b"<incidentType>Online Enticement of Children for Sexual Acts</incidentType>"
    b"<incidentDateTime>2024-05-17T22:15:03Z</incidentDateTime></incidentSummary>"
    b"<reporter><reportingPerson><firstName>Bench</firstName><email>bench@example.org</email></reportingPerson>"
    b"</reporter><victim><victimPerson><address><zipCode>27601</zipCode><state>NC</state><country>US</country>"
    b"</address></victimPerson></victim></report>"
)
FILE_DETAILS = (
    '<?xml version="1.0" encoding="UTF-8"?><fileDetails><reportId>{report_id}</reportId><fileId>{file_id}</fileId>'
    "<fileName>blob.bin</fileName><fileAnnotations><viral/></fileAnnotations>"
    "<ipCaptureEvent><ipAddress>198.51.100.7</ipAddress><eventName>Upload</eventName></ipCaptureEvent>"
    "</fileDetails>"
)
XML = {"Content-Type": "text/xml; charset=utf-8"}


def free_port() -> int:
    with socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def code_of(response: httpx.Response) -> int:
    text = response.text
    start = text.find("<responseCode>")
    if response.status_code != 200 or start < 0:
        return -response.status_code
    return int(text[start + 14 : text.index("</responseCode>")])


def field(response: httpx.Response, name: str) -> str:
    text = response.text
    return text[text.index(f"<{name}>") + len(name) + 2 : text.index(f"</{name}>")]


class Recorder:
    def __init__(self) -> None:
        self.calls: dict[str, list[float]] = defaultdict(list)
        self.reports: list[float] = []
        self.errors: dict[str, int] = defaultdict(int)


async def one_report(http: httpx.AsyncClient, record: Recorder | None) -> None:
    try:
        await _one_report(http, record)
    except (httpx.TransportError, ValueError) as error:
        # A dropped connection or an answer without the expected field: count it, go on with the next report.
        if record is not None:
            record.errors[f"report:{type(error).__name__}"] += 1


async def _one_report(http: httpx.AsyncClient, record: Recorder | None) -> None:
    started = time.perf_counter()
    timings: list[tuple[str, float]] = []

    async def call(name: str, request: asyncio.Future[httpx.Response] | object) -> httpx.Response:
        begun = time.perf_counter()
        response: httpx.Response = await request  # type: ignore[misc]
        timings.append((name, time.perf_counter() - begun))
        if code_of(response) != 0 and record is not None:
            record.errors[f"{name}:{code_of(response)}"] += 1
        return response

    opened = await call("submit", http.post("submit", content=REPORT, headers=XML))
    report_id = field(opened, "reportId")
    blob = secrets.token_bytes(1024)
    uploaded = await call("upload", http.post("upload", data={"id": report_id}, files={"file": ("blob.bin", blob)}))
    details = FILE_DETAILS.format(report_id=report_id, file_id=field(uploaded, "fileId")).encode()
    await call("fileinfo", http.post("fileinfo", content=details, headers=XML))
    await call("finish", http.post("finish", data={"id": report_id}))
    if record is not None:
        record.reports.append(time.perf_counter() - started)
        for name, seconds in timings:
            record.calls[name].append(seconds)


async def drive(base_url: str, auth: tuple[str, str], reports: int, clients: int, record: Recorder | None) -> float:
    remaining = iter(range(reports))
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base_url, auth=auth, limits=limits, timeout=60) as http:

        async def worker() -> None:
            for _ in remaining:
                await one_report(http, record)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        return time.perf_counter() - started


def server_cpu_seconds(pid: int) -> float | None:
    """CPU time used so far by the server process and its worker processes (Linux /proc), if readable."""
    total = 0.0
    try:
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(entry.name) == pid or int(fields[1]) == pid:
                total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except OSError:
        return None
    return total


class RawConnection:
    """One keep-alive HTTP/1.1 connection speaking just enough of the protocol for these calls.

    httpx spends more CPU per request than the server does; on a shared two-core machine that measures the
    client. This client pre-encodes its requests and reads answers by Content-Length, so nearly all the CPU
    left goes to the server.
    """

    def __init__(self, host: str, port: int, authorization: str) -> None:
        self.host, self.port, self.authorization = host, port, authorization
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: bytes, content_type: str) -> tuple[int, str]:
        if self.reader is None or self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\nAuthorization: {self.authorization}\r\n"
            f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        self.writer.write(head.encode() + body)
        header = await self.reader.readuntil(b"\r\n\r\n")
        status = int(header[9:12])
        start = header.lower().index(b"content-length:") + 15
        length = int(header[start : header.index(b"\r\n", start)])
        return status, (await self.reader.readexactly(length)).decode()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def _code(status: int, text: str) -> int:
    start = text.find("<responseCode>")
    return int(text[start + 14 : text.index("</responseCode>")]) if status == 200 and start >= 0 else -status


def _field(text: str, name: str) -> str:
    return text[text.index(f"<{name}>") + len(name) + 2 : text.index(f"</{name}>")]


async def raw_report(connection: RawConnection, record: Recorder | None) -> None:
    started = time.perf_counter()
    timings: list[tuple[str, float]] = []

    async def call(name: str, path: str, body: bytes, content_type: str) -> str:
        begun = time.perf_counter()
        status, text = await connection.post(path, body, content_type)
        timings.append((name, time.perf_counter() - begun))
        if _code(status, text) != 0 and record is not None:
            record.errors[f"{name}:{_code(status, text)}"] += 1
        return text

    xml = XML["Content-Type"]
    report_id = _field(await call("submit", "/ispws/submit", REPORT, xml), "reportId")
    boundary = secrets.token_hex(8)
    upload = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="id"\r\n\r\n{report_id}\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="blob.bin"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + secrets.token_bytes(1024)
        + f"\r\n--{boundary}--\r\n".encode()
    )
    multipart = f"multipart/form-data; boundary={boundary}"
    file_id = _field(await call("upload", "/ispws/upload", upload, multipart), "fileId")
    details = FILE_DETAILS.format(report_id=report_id, file_id=file_id).encode()
    await call("fileinfo", "/ispws/fileinfo", details, xml)
    await call("finish", "/ispws/finish", f"id={report_id}".encode(), "application/x-www-form-urlencoded")
    if record is not None:
        record.reports.append(time.perf_counter() - started)
        for name, seconds in timings:
            record.calls[name].append(seconds)


async def drive_raw(base_url: str, auth: tuple[str, str], reports: int, clients: int, record: Recorder | None) -> float:
    url = httpx.URL(base_url)
    authorization = "Basic " + base64.b64encode(":".join(auth).encode()).decode()
    remaining = iter(range(reports))
    connections = [RawConnection(url.host, url.port or 80, authorization) for _ in range(clients)]

    async def worker(connection: RawConnection) -> None:
        for _ in remaining:
            try:
                await raw_report(connection, record)
            except (OSError, asyncio.IncompleteReadError, ValueError) as error:
                if record is not None:
                    record.errors[f"report:{type(error).__name__}"] += 1
                connection.close()
                connection.reader = connection.writer = None

    started = time.perf_counter()
    await asyncio.gather(*(worker(connection) for connection in connections))
    elapsed = time.perf_counter() - started
    for connection in connections:
        connection.close()
    return elapsed


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def start_server(folder: Path, url: str, workers: int, pipeline: bool) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    command = shutil.which("clearinghouse", path=str(Path(sys.executable).parent)) or "clearinghouse"
    log = (folder / "server.log").open("wb")
    server = subprocess.Popen(
        # A long keep-alive: on a starved machine a pooled connection can idle past uvicorn's 5 s default and be
        # closed just as the client reuses it, which measures the race, not the server.
        [
            *(command, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)),
            *("--no-access-log", "--timeout-keep-alive", "120"),
            "--pipeline" if pipeline else "--no-pipeline",
        ],
        env={**os.environ, "CLEARINGHOUSE_DATABASE_URL": url, "CLEARINGHOUSE_DATA_DIR": str(folder)},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    return server, f"http://127.0.0.1:{port}/ispws/"


def wait_until_up(base_url: str, auth: tuple[str, str], server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit("the server exited during start-up; see server.log")
        try:
            if httpx.get(base_url + "status", auth=auth, timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.2)
    raise SystemExit("the server did not answer within 60 s")


def _processed(url: str) -> int:
    """Reports the pipeline beside the server has taken through release so far."""
    import sqlalchemy as sa

    from clearinghouse.db.engine import Store
    from clearinghouse.tipline.models import Report

    store = Store(url)
    try:
        with store.session() as session:
            return int(session.scalar(sa.select(sa.func.count()).where(Report.processed_at.is_not(None))) or 0)
    finally:
        store.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reports", type=int, default=5000, help="reports to file (after a warm-up of 100)")
    parser.add_argument("--clients", type=int, default=50, help="concurrent clients")
    parser.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1, help="server worker processes (default: one per core)"
    )
    parser.add_argument(
        "--client",
        choices=("httpx", "raw"),
        default="raw",
        help="httpx.AsyncClient, or a minimal HTTP/1.1 client that leaves the CPU to the server",
    )
    parser.add_argument(
        "--no-pipeline",
        action="store_true",
        help="serve without the tipline pipeline beside it (the interface alone; by default it runs, as deployed)",
    )
    args = parser.parse_args()

    from clearinghouse.access.service import create_platform
    from clearinghouse.db.engine import open_store

    folder = Path(tempfile.mkdtemp(prefix="bench-ispws-"))
    url = f"sqlite:///{folder / 'bench.db'}"
    store = open_store(url)
    with store.unit_of_work() as session:
        issued = create_platform(session=session, name="Bench Platform")
    store.dispose()
    auth = (issued.username, issued.secret)
    server, base_url = start_server(folder, url, args.workers, not args.no_pipeline)
    try:
        wait_until_up(base_url, auth, server)
        run = drive if args.client == "httpx" else drive_raw
        asyncio.run(run(base_url, auth, 100, args.clients, None))
        record = Recorder()
        cpu_before, client_before = server_cpu_seconds(server.pid), time.process_time()
        elapsed = asyncio.run(run(base_url, auth, args.reports, args.clients, record))
        cpu_after, client_cpu = server_cpu_seconds(server.pid), time.process_time() - client_before
        processed = _processed(url)
    except Exception:
        print("the run failed; the server's log ends with:", file=sys.stderr)
        print((folder / "server.log").read_text(errors="replace")[-3000:], file=sys.stderr)
        raise
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(folder, ignore_errors=True)

    print(f"platform interface over loopback, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores shared")
    print(
        f"{args.reports} reports (4 calls each), {args.clients} concurrent {args.client} clients, "
        f"{args.workers} server worker(s)"
    )
    rate = args.reports / elapsed
    print(f"throughput: {rate:.0f} reports/s ({4 * rate:.0f} calls/s) in {elapsed:.1f} s")
    beside = "not running" if args.no_pipeline else f"had processed {processed:,} of {args.reports + 100:,} reports"
    print(f"pipeline beside the server: {beside} when the last call was answered")
    if cpu_before is not None and cpu_after is not None:
        # CPU per report does not depend on what else the shared machine runs, unlike the wall-clock figures.
        print(f"server CPU: {1e3 * (cpu_after - cpu_before) / args.reports:.1f} ms per report", end="; ")
    print(f"client CPU: {1e3 * client_cpu / args.reports:.1f} ms per report")
    print(f"{'latency (ms)':<14}{'p50':>8}{'p99':>8}{'mean':>8}")
    for name in ("submit", "upload", "fileinfo", "finish"):
        values = record.calls[name]
        print(
            f"{name:<14}{percentile(values, 0.5) * 1e3:>8.1f}{percentile(values, 0.99) * 1e3:>8.1f}"
            f"{statistics.fmean(values) * 1e3:>8.1f}"
        )
    everything = [value for values in record.calls.values() for value in values]
    print(
        f"{'any call':<14}{percentile(everything, 0.5) * 1e3:>8.1f}{percentile(everything, 0.99) * 1e3:>8.1f}"
        f"{statistics.fmean(everything) * 1e3:>8.1f}"
    )
    print(
        f"{'whole report':<14}{percentile(record.reports, 0.5) * 1e3:>8.1f}"
        f"{percentile(record.reports, 0.99) * 1e3:>8.1f}{statistics.fmean(record.reports) * 1e3:>8.1f}"
    )
    print("errors: " + (", ".join(f"{k} x{v}" for k, v in sorted(record.errors.items())) or "none"))
    print("target: >= 300 reports/s and p99 < 100 ms per call (reported, not asserted)")


if __name__ == "__main__":
    main()
