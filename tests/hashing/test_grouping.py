"""Unique files after visually similar images are grouped: same MD5 or near PDQ joins files."""

from __future__ import annotations

import io

from PIL import Image, ImageEnhance

from clearinghouse.hashing.grouping import count_groups
from clearinghouse.hashing.image import hash_content
from tests.hashing.pictures import picture


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def _jpeg(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, "JPEG", quality=70)
    return buffer.getvalue()


def test_copies_and_near_copies_are_one_picture_and_different_pictures_are_not() -> None:
    first, second = picture(1), picture(2)
    files = [
        _png(first),
        _png(first),  # the same bytes again
        _jpeg(first),  # re-compressed: other MD5, near PDQ
        _png(ImageEnhance.Brightness(first).enhance(1.1)),  # brightened
        _png(second),
        b"not a picture at all",
        b"not a picture at all",
    ]
    hashes = [hash_content(content) for content in files]
    groups = count_groups([h.md5 for h in hashes], [h.pdq for h in hashes], [h.pdq_quality for h in hashes])
    assert len({h.md5 for h in hashes}) == 5
    assert groups == 3  # the first picture (four files), the second picture, the repeated text file


def test_files_without_hashes_each_count_once() -> None:
    assert count_groups([None, None], [None, None], [None, None]) == 2
    assert count_groups([], [], []) == 0
