"""Uploads are hashed in memory: digests and PDQ come back, and no byte of content goes anywhere else."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import logging
import subprocess
import tempfile

import pytest
from PIL import Image

from clearinghouse.tipline import content
from clearinghouse.tipline.content import MAX_PDQ_PIXELS, hash_upload
from tests.tipline.factories import encoded, synthetic_image

DISTINCTIVE = b"CONTENT-NEVER-KEPT-5b1e0c"


def hamming(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()


def test_cryptographic_digests_match_hashlib() -> None:
    data = DISTINCTIVE * 1000
    digest = hash_upload(data, "notes.bin")
    assert digest.size == len(data)
    assert digest.md5 == hashlib.md5(data).hexdigest()
    assert digest.sha1 == hashlib.sha1(data).hexdigest()
    assert digest.sha256 == hashlib.sha256(data).hexdigest()
    assert digest.filename == "notes.bin"
    assert (digest.image_format, digest.pdq, digest.pdq_quality) == (None, None, None)


def test_an_image_gets_a_pdq_hash_and_quality() -> None:
    digest = hash_upload(encoded(synthetic_image(), "PNG"), "pattern.png")
    assert digest.image_format == "PNG"
    assert digest.pdq is not None
    assert len(digest.pdq) == 64
    assert int(digest.pdq, 16) >= 0
    assert digest.pdq_quality is not None
    assert 0 <= digest.pdq_quality <= 100


def test_the_same_picture_in_another_format_hashes_nearby() -> None:
    image = synthetic_image()
    png = hash_upload(encoded(image, "PNG"))
    jpeg = hash_upload(encoded(image, "JPEG", quality=85))
    other = hash_upload(encoded(synthetic_image(seed=8), "PNG"))
    assert png.pdq is not None
    assert jpeg.pdq is not None
    assert other.pdq is not None
    assert png.md5 != jpeg.md5
    assert hamming(png.pdq, jpeg.pdq) <= 31
    assert hamming(png.pdq, other.pdq) > 31


@pytest.mark.parametrize("mode", ["L", "LA", "RGBA", "P", "1"])
def test_every_common_pixel_mode_hashes(mode: str) -> None:
    digest = hash_upload(encoded(synthetic_image().convert(mode), "PNG"))
    assert digest.pdq is not None


@pytest.mark.parametrize(
    "data",
    [b"", DISTINCTIVE, encoded(synthetic_image(), "PNG")[:200], b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 8 8\n"],
    ids=["empty", "text", "truncated-png", "eps"],
)
def test_undecodable_or_refused_formats_get_no_pdq_and_no_error(data: bytes) -> None:
    digest = hash_upload(data)
    assert digest.pdq is None
    assert digest.md5 == hashlib.md5(data).hexdigest()


def test_huge_images_are_not_decoded_for_pdq() -> None:
    side = int(MAX_PDQ_PIXELS**0.5) + 1
    data = encoded(Image.new("1", (side, side)), "PNG")
    digest = hash_upload(data)
    assert digest.pdq is None
    assert digest.sha256 == hashlib.sha256(data).hexdigest()


def test_hashing_touches_no_temporary_file_and_no_subprocess(monkeypatch: pytest.MonkeyPatch) -> None:
    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("content must stay in memory")

    for name in ("mkstemp", "mkdtemp", "NamedTemporaryFile", "TemporaryFile", "SpooledTemporaryFile"):
        monkeypatch.setattr(tempfile, name, forbidden)
    monkeypatch.setattr(subprocess, "Popen", forbidden)
    image = synthetic_image()
    for data in (
        encoded(image, "PNG"),
        encoded(image, "JPEG"),
        encoded(image, "GIF"),
        encoded(image, "WEBP"),
        encoded(image, "TIFF"),
        encoded(image, "BMP"),
        b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 8 8\n" + DISTINCTIVE,
    ):
        hash_upload(data, "upload")


def test_the_digest_holds_no_content() -> None:
    data = encoded(synthetic_image(), "PNG") + DISTINCTIVE
    digest = hash_upload(data, "upload.png")
    kept = repr(dataclasses.asdict(digest)).encode()
    assert DISTINCTIVE not in kept
    assert DISTINCTIVE.hex().encode() not in kept


def test_only_the_listed_decoders_are_tried() -> None:
    assert "EPS" not in content.IMAGE_FORMATS


def test_pillow_debug_logging_never_echoes_content(caplog: pytest.LogCaptureFixture) -> None:
    # Pillow's TIFF reader logs tag values at DEBUG; an application at DEBUG must still not receive them.
    buffer = io.BytesIO()
    synthetic_image().save(buffer, "TIFF", tiffinfo={270: DISTINCTIVE.decode()})
    caplog.set_level(logging.DEBUG)
    caplog.clear()
    digest = hash_upload(buffer.getvalue(), "scan.tiff")
    assert digest.image_format == "TIFF"
    assert DISTINCTIVE.decode() not in caplog.text
