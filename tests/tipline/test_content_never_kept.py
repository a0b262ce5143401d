"""Uploaded content is hashed and dropped: no byte of it reaches the database, the data folder, a temporary
file or the logs, in any common encoding. Driven over real HTTP, with every log at DEBUG."""

from __future__ import annotations

import base64
import hashlib
import io
import secrets
import tempfile
from pathlib import Path

import httpx
import pytest
from PIL import Image, PngImagePlugin

from clearinghouse.db.engine import Store
from tests.tipline.factories import file_details, make_faker, realistic_report, synthetic_image
from tests.tipline.ispws_client import IspwsClient, SchemaBuilder
from tests.web.live import add_platform, captured_logs, serve_store


def encodings(marker: bytes) -> dict[str, bytes]:
    """The marker as it would appear stored raw, as hex, or as base64 at any of the three alignments."""
    forms = {"raw": marker, "hex": marker.hex().encode(), "HEX": marker.hex().upper().encode()}
    for shift in range(3):
        padded = b"\x00" * shift + marker
        for name, encoder in (("base64", base64.b64encode), ("base64url", base64.urlsafe_b64encode)):
            # Drop the first and last 4-character groups: they mix in bytes around the marker.
            forms[f"{name}+{shift}"] = encoder(padded)[4:-4]
    return forms


def marked_png(marker: bytes) -> bytes:
    """A synthetic test pattern carrying the marker in a text chunk and in a row of its pixels."""
    image = synthetic_image(seed=11)
    row = Image.frombytes("RGB", (len(marker) // 3, 1), marker[: (len(marker) // 3) * 3])
    image.paste(row, (0, 0))
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", marker.decode("ascii"))
    buffer = io.BytesIO()
    image.save(buffer, "PNG", pnginfo=info)
    return buffer.getvalue()


def marked_blob(marker: bytes) -> bytes:
    """3 MB of non-image bytes with the marker all through it (larger than any in-memory spool threshold)."""
    filler = secrets.token_bytes(4096)
    return b"".join(filler + marker for _ in range(3 * 1024 * 1024 // (4096 + len(marker))))


@pytest.fixture
def temp_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Temporary files of this process go here during the test, so we can look at them."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setenv("TMPDIR", str(folder))
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def files_under(folder: Path) -> list[Path]:
    return [path for path in folder.rglob("*") if path.is_file()]


def test_uploaded_content_leaves_no_trace(
    store: Store, tmp_path: Path, temp_folder: Path, schema_builder: SchemaBuilder
) -> None:
    image_marker = ("IMG" + secrets.token_hex(24)).encode()
    blob_marker = ("BLOB" + secrets.token_hex(24)).encode()
    image, blob = marked_png(image_marker), marked_blob(blob_marker)
    assert image_marker in image
    credentials = add_platform(store, "Example Chat")
    fake = make_faker()
    with captured_logs() as logs, serve_store(store) as live:
        with httpx.Client(base_url=live.ispws, auth=credentials, timeout=60) as http:
            client = IspwsClient(http, schema_builder)
            opened = client.submit(realistic_report(fake))
            assert opened.report_id is not None
            answers = [client.upload(opened.report_id, image, "synthetic.png")]
            answers.append(client.upload(opened.report_id, blob, "notes.bin"))
            assert [a.code for a in answers] == [0, 0]
            assert [a.hash for a in answers] == [hashlib.md5(image).hexdigest(), hashlib.md5(blob).hexdigest()]
            for answer in answers:
                assert answer.file_id is not None
                assert client.fileinfo(file_details(fake, opened.report_id, answer.file_id)).code == 0
            assert client.finish(opened.report_id).code == 0
        log_text = logs.getvalue().encode()
    assert b"POST /ispws/upload" in log_text  # the logs were really captured
    store.dispose()

    searched = {path: path.read_bytes() for path in files_under(tmp_path)}
    database_files = [path.name for path in searched if path.name.startswith("store.db")]
    assert "store.db" in database_files
    searched[Path("<logs>")] = log_text
    assert not files_under(temp_folder), "uploads must not spool to temporary files"
    for marker in (image_marker, blob_marker):
        for form, needle in encodings(marker).items():
            for path, content in searched.items():
                assert needle not in content, f"{form} form of uploaded content found in {path}"
