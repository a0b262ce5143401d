"""Hashes of file content held in memory: MD5, SHA-1 and SHA-256 of the bytes, PDQ of a decodable picture.

Content is decoded from the bytes given and never written anywhere: no temporary file, no cache.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import asdict, dataclass

import numpy as np
import pdqhash
from PIL import Image, UnidentifiedImageError

from clearinghouse.hashing.types import Md5Hash, Sha1Hash, Sha256Hash


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


def pdq_from_bytes(content: bytes) -> tuple[str, int] | None:
    """PDQ hash and quality of a picture given as file bytes, or None if the bytes are not a usable picture.

    Pictures large enough to be decompression bombs are refused (None) rather than decoded.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(content)) as image:
                image.load()
                return pdq_from_image(image)
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning, OSError, ValueError):
        return None


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
