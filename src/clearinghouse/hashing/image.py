"""Hashes of file content held in memory: MD5, SHA-1 and SHA-256 of the bytes, PDQ of a decodable picture.

Content is decoded from the bytes given and never written anywhere: no temporary file, no cache.
"""

from __future__ import annotations

import io
import logging
from dataclasses import asdict, dataclass

import numpy as np
import pdqhash
from PIL import Image

from clearinghouse.hashing.types import Md5Hash, Sha1Hash, Sha256Hash

# Decoders Pillow may try. Some other formats are decoded by external programs through temporary files
# (EPS runs Ghostscript on a temp file), which would put the content on disk; an image in any other format
# simply gets no PDQ hash.
IMAGE_FORMATS = ("JPEG", "PNG", "GIF", "WEBP", "BMP", "TIFF")

# A decoded image holds 3 bytes per pixel; above this many pixels (about 150 MB decoded) the perceptual hash
# is skipped rather than let one file exhaust a worker's memory (and decompression bombs are never decoded).
MAX_PDQ_PIXELS = 50_000_000

# Pillow's debug log echoes values it reads from the file (TIFF tags, for one), which are part of the content;
# whatever the application's log level, Pillow's own stays above DEBUG.
logging.getLogger("PIL").setLevel(logging.INFO)


@dataclass(frozen=True)
class ContentHashes:
    """Every hash of one file's content; ``pdq`` is None when the content is not a picture Pillow decodes."""

    md5: str
    sha1: str
    sha256: str
    pdq: str | None
    pdq_quality: int | None
    size: int

    def as_dict(self) -> dict[str, str | int | None]:
        """The hashes by field name (for JSON output)."""
        return asdict(self)


def pdq_from_image(image: Image.Image) -> tuple[str, int]:
    """PDQ hash (64 hex digits) and quality (0 to 100) of a decoded picture."""
    rgb = np.ascontiguousarray(np.asarray(image.convert("RGB"), dtype=np.uint8))
    vector, quality = pdqhash.compute(rgb)
    # pdqhash gives the 256 bits most significant first, the order of the usual hex form (ThreatExchange).
    return np.packbits(np.asarray(vector, dtype=np.uint8)).tobytes().hex(), int(quality)


def decode_pdq(content: bytes) -> tuple[str, str, int] | None:
    """(image format, PDQ hex, quality) of a still picture given as bytes, or None when it is not one we decode.

    Only the formats in IMAGE_FORMATS are tried, pictures over MAX_PDQ_PIXELS are not decoded, and truncated
    files are refused. No warnings filter is touched: that is process-wide state, unsafe in a threaded server.
    """
    try:
        with Image.open(io.BytesIO(content), formats=IMAGE_FORMATS) as image:
            image_format = image.format or "unknown"
            width, height = image.size
            if width * height > MAX_PDQ_PIXELS:
                return None
            image.load()
            pdq, quality = pdq_from_image(image)
    # A decoder can fail in many ways on hostile or truncated input (OSError, ValueError, SyntaxError,
    # struct.error, ...); whatever the failure, the file simply has no perceptual hash.
    except Exception:
        return None
    return image_format, pdq, quality


def pdq_from_bytes(content: bytes) -> tuple[str, int] | None:
    """PDQ hash and quality of a picture given as file bytes, or None if the bytes are not a usable picture."""
    decoded = decode_pdq(content)
    return None if decoded is None else (decoded[1], decoded[2])


def hash_content(content: bytes) -> ContentHashes:
    """Every hash of ``content``."""
    pdq = pdq_from_bytes(content)
    return ContentHashes(
        md5=Md5Hash.compute(content).value,
        sha1=Sha1Hash.compute(content).value,
        sha256=Sha256Hash.compute(content).value,
        pdq=None if pdq is None else pdq[0],
        pdq_quality=None if pdq is None else pdq[1],
        size=len(content),
    )
