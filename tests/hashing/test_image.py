"""Hashing content in memory: digests, and PDQ that survives everyday edits but tells pictures apart."""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Callable

import pytest
from PIL import Image

from clearinghouse.hashing.image import hash_content, pdq_from_bytes
from clearinghouse.hashing.types import PdqHash
from tests.hashing.pictures import brightened, cropped, encode, flat, picture, recompressed, resized

SEEDS = range(8)

EDITS: dict[str, Callable[[Image.Image], Image.Image]] = {
    "resized to half": lambda image: resized(image, 0.5),
    "resized to 1.5 times": lambda image: resized(image, 1.5),
    "re-compressed as JPEG": recompressed,
    "cropped by 1% a side": lambda image: cropped(image, 0.01),
    "brightened by 20%": lambda image: brightened(image, 1.2),
    "darkened by 15%": lambda image: brightened(image, 0.85),
}


def _pdq(image: Image.Image, fmt: str = "PNG") -> tuple[str, int]:
    found = pdq_from_bytes(encode(image, fmt))
    assert found is not None
    return found


def test_digests_of_content() -> None:
    content = b"\x00\x01 any bytes at all"
    hashes = hash_content(content)
    assert hashes.md5 == hashlib.md5(content).hexdigest()
    assert hashes.sha1 == hashlib.sha1(content).hexdigest()
    assert hashes.sha256 == hashlib.sha256(content).hexdigest()
    assert hashes.pdq is None
    assert hashes.pdq_quality is None
    assert hashes.size == len(content)


def test_pictures_get_a_pdq_with_quality() -> None:
    hashes = hash_content(encode(picture(3)))
    assert hashes.pdq is not None
    assert PdqHash.is_valid(hashes.pdq)
    assert hashes.pdq_quality is not None
    assert hashes.pdq_quality >= PdqHash.min_quality


@pytest.mark.parametrize("edit", list(EDITS))
def test_edited_copies_match_their_original(edit: str) -> None:
    for seed in SEEDS:
        original = picture(seed)
        value, _ = _pdq(original)
        copy, _ = _pdq(EDITS[edit](original), "JPEG" if "JPEG" in edit else "PNG")
        distance = PdqHash.distance(value, copy)
        assert distance <= PdqHash.match_distance, f"picture {seed} {edit}: {distance} bits apart"


def test_different_pictures_do_not_match() -> None:
    values = [_pdq(picture(seed))[0] for seed in range(16)]
    for left, right in itertools.combinations(values, 2):
        assert PdqHash.distance(left, right) > PdqHash.match_distance


def test_flat_pictures_have_low_quality() -> None:
    found = pdq_from_bytes(encode(flat()))
    assert found is not None
    assert found[1] < PdqHash.min_quality


@pytest.mark.parametrize("mode", ["L", "LA", "RGBA", "P", "I;16", "CMYK"])
def test_any_picture_mode_is_hashed(mode: str) -> None:
    image = picture(5).convert(mode) if mode != "I;16" else picture(5).convert("L").convert("I;16")
    fmt = "JPEG" if mode == "CMYK" else "PNG" if mode != "I;16" else "TIFF"
    assert pdq_from_bytes(encode(image, fmt)) is not None


def test_truncated_or_foreign_bytes_have_no_pdq() -> None:
    content = encode(picture(2), "JPEG")
    assert pdq_from_bytes(content[: len(content) // 3]) is None
    assert pdq_from_bytes(b"%PDF-1.4 not a picture") is None
    assert pdq_from_bytes(b"") is None


def test_decompression_bombs_are_not_decoded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    assert pdq_from_bytes(encode(picture(1, size=(100, 80)))) is None
