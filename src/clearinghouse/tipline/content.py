"""Hashes of an uploaded file, computed in memory; the clearinghouse never keeps the content itself.

`hash_upload` is the only thing `/upload` does with the bytes: cryptographic digests of every file and, when
the bytes decode as a still image, a PDQ perceptual hash with its quality. Nothing here writes, logs or
caches: decoding happens on an in-memory buffer, and the caller drops its reference to the bytes afterwards.
"""

from __future__ import annotations

import hashlib
import io
import logging
from dataclasses import dataclass

import numpy as np
import pdqhash
from PIL import Image, ImageFile

# Decoders we let Pillow try. Some other formats are decoded by external programs through temporary files
# (EPS runs Ghostscript on a temp file), which would put the content on disk; an image in any other format
# simply gets no PDQ hash.
IMAGE_FORMATS = ("JPEG", "PNG", "GIF", "WEBP", "BMP", "TIFF")

# Pillow's debug log echoes values it reads from the file (TIFF tags, for one), which are part of the content;
# whatever the application's log level, Pillow's own stays above DEBUG.
logging.getLogger("PIL").setLevel(logging.INFO)

# A decoded image holds 3 bytes per pixel; above this many pixels (about 150 MB decoded) we skip the
# perceptual hash rather than let one upload exhaust the worker's memory. Cryptographic hashes still apply.
MAX_PDQ_PIXELS = 50_000_000


@dataclass(frozen=True, slots=True)
class UploadDigest:
    """What is kept of an uploaded file: its size, its hashes and what kind of image it was, if any."""

    size: int
    md5: str
    sha1: str
    sha256: str
    filename: str | None = None
    image_format: str | None = None
    pdq: str | None = None
    # PDQ's own 0-100 measure of how much structure the image has; matching code decides how low is too low
    # to trust (flat or tiny images give unreliable hashes).
    pdq_quality: int | None = None


def _pdq_hex(bits: np.ndarray) -> str:
    """The 256-bit PDQ vector as 64 lower-case hex digits, most significant bit first (the ThreatExchange
    convention, so our hashes compare with those of other tools)."""
    packed = np.packbits(bits.astype(np.uint8).reshape(-1))
    return packed.tobytes().hex()


def _image_hash(data: bytes) -> tuple[str, str, int] | None:
    """(format, PDQ hex, quality) when the bytes are a still image we can decode, else None."""
    # No warnings.catch_warnings() here: it swaps process-wide state and is not safe in a threaded server.
    # Pillow's decompression-bomb warning needs no handling anyway: the pixel cap below is lower.
    # WeasyPrint sets Pillow's process-wide LOAD_TRUNCATED_IMAGES on import, which would hash a truncated
    # upload as a blank picture; our sheets embed no raster images, so decoding stays strict everywhere.
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        with Image.open(io.BytesIO(data), formats=IMAGE_FORMATS) as image:
            image_format = image.format or "unknown"
            width, height = image.size
            if width * height > MAX_PDQ_PIXELS:
                return None
            pixels = np.asarray(image.convert("RGB"))
    # A decoder can fail in many ways on hostile or truncated input (OSError, ValueError, SyntaxError,
    # struct.error, ...); whatever the failure, the file simply has no perceptual hash.
    except Exception:
        return None
    bits, quality = pdqhash.compute(pixels)
    return image_format, _pdq_hex(bits), int(quality)


def hash_upload(data: bytes, filename: str | None = None) -> UploadDigest:
    """Digest one uploaded file in memory. The filename is kept as given; the content decides the kind."""
    image = _image_hash(data)
    return UploadDigest(
        size=len(data),
        md5=hashlib.md5(data, usedforsecurity=False).hexdigest(),
        sha1=hashlib.sha1(data, usedforsecurity=False).hexdigest(),
        sha256=hashlib.sha256(data).hexdigest(),
        filename=filename,
        image_format=None if image is None else image[0],
        pdq=None if image is None else image[1],
        pdq_quality=None if image is None else image[2],
    )
