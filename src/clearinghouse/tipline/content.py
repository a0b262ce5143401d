"""Hashes of an uploaded file, computed in memory; the clearinghouse never keeps the content itself.

`hash_upload` is the only thing `/upload` does with the bytes: cryptographic digests of every file and, when
the bytes decode as a still image, a PDQ perceptual hash with its quality. Nothing here writes, logs or
caches: decoding happens on an in-memory buffer, and the caller drops its reference to the bytes afterwards.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from clearinghouse.hashing.image import IMAGE_FORMATS, MAX_PDQ_PIXELS, decode_pdq


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


def _image_hash(data: bytes) -> tuple[str, str, int] | None:
    """(format, PDQ hex, quality) when the bytes are a still image we decode, else None (see hashing.image)."""
    return decode_pdq(data)


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


__all__ = ["IMAGE_FORMATS", "MAX_PDQ_PIXELS", "UploadDigest", "hash_upload"]
