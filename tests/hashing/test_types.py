"""Every hash type passes the same contract; extension points refuse values with their reason."""

from __future__ import annotations

from typing import ClassVar

import pytest

from clearinghouse.errors import InputError
from clearinghouse.hashing import types
from clearinghouse.hashing.types import HashFormatError, HashType, HashTypeUnavailable, IndexKind
from tests.hashing.pictures import encode, picture


class HashTypeContract:
    """The standard tests of a hash type. A subclass names the type and gives examples; it gets the rest."""

    hash_type: ClassVar[type[HashType]]
    valid: ClassVar[list[str]]
    """Values the type accepts, written in assorted ways (case, surrounding spaces)."""
    invalid: ClassVar[list[str]]
    near_pair: ClassVar[tuple[str, str] | None] = None
    """Two different values that still match (for types with a distance), else None."""
    expected_index: ClassVar[IndexKind]

    def sample_content(self) -> bytes:
        """Content the type can hash."""
        return b"some bytes"

    def test_is_registered_under_its_name(self) -> None:
        assert types.get(self.hash_type.name) is self.hash_type
        assert types.get(self.hash_type.name.upper()) is self.hash_type

    def test_names_its_index(self) -> None:
        assert self.hash_type.index_kind is self.expected_index

    def test_normalises_to_a_fixed_point(self) -> None:
        for value in self.valid:
            normal = self.hash_type.normalise(value)
            assert normal == normal.strip().lower()
            assert self.hash_type.normalise(normal) == normal
            assert self.hash_type.is_valid(value)

    def test_refuses_invalid_values_naming_the_type(self) -> None:
        for value in self.invalid:
            assert not self.hash_type.is_valid(value)
            with pytest.raises(HashFormatError) as caught:
                self.hash_type.normalise(value)
            assert caught.value.field == self.hash_type.name
            assert "expected" in caught.value.problem

    def test_a_value_is_at_distance_zero_from_itself_whatever_its_writing(self) -> None:
        for value in self.valid:
            assert self.hash_type.distance(value, value.upper()) == 0
            assert self.hash_type.matches(value, f"  {value} ")

    def test_distance_is_symmetric_and_different_values_are_apart(self) -> None:
        first, second = self.valid[0], self.valid[-1]
        assert self.hash_type.normalise(first) != self.hash_type.normalise(second)
        assert self.hash_type.distance(first, second) == self.hash_type.distance(second, first) > 0

    def test_near_values_match_only_when_the_type_has_a_distance(self) -> None:
        if self.near_pair is None:
            assert self.hash_type.match_distance == 0
            return
        left, right = self.near_pair
        assert 0 < self.hash_type.distance(left, right) <= self.hash_type.match_distance
        assert self.hash_type.matches(left, right)

    def test_computes_a_valid_value_from_content(self) -> None:
        computed = self.hash_type.compute(self.sample_content())
        assert computed is not None
        assert computed.hash_type == self.hash_type.name
        assert self.hash_type.normalise(computed.value) == computed.value


class TestMd5(HashTypeContract):
    hash_type = types.Md5Hash
    valid: ClassVar[list[str]] = ["9e107d9d372bb6826bd81d3542a419d6", " E4D909C290D0FB1CA068FFADDF22CBD0 "]
    invalid: ClassVar[list[str]] = [
        "",
        "xyz",
        "9e107d9d372bb6826bd81d3542a419d",
        "g" * 32,
        "9e107d9d372bb6826bd81d3542a419d6aa",
    ]
    expected_index = IndexKind.EXACT

    def test_matches_the_standard_digest(self) -> None:
        computed = types.Md5Hash.compute(b"The quick brown fox jumps over the lazy dog")
        assert computed.value == "9e107d9d372bb6826bd81d3542a419d6"


class TestSha1(HashTypeContract):
    hash_type = types.Sha1Hash
    valid: ClassVar[list[str]] = [
        "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12",
        "DE9F2C7FD25E1B3AFAD3E85A0BD17D9B100DB4B3",
    ]
    invalid: ClassVar[list[str]] = [
        "2fd4e1c67a2d28fced849ee1bb76e7391b93eb1",
        "2fd4e1c67a2d28fced849ee1bb76e7391b93eb1z",
    ]
    expected_index = IndexKind.EXACT


class TestSha256(HashTypeContract):
    hash_type = types.Sha256Hash
    valid: ClassVar[list[str]] = [
        "d7a8fbb307d7809469ca9abcb0082e4f8d5651e46d3cdb762d02d0bf37c9e592",
        "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
    ]
    invalid: ClassVar[list[str]] = [
        "d7a8fbb307d7809469ca9abcb0082e4f",
        "d7a8fbb307d7809469ca9abcb0082e4f8d5651e46d3cdb762d02d0bf37c9e59",
    ]
    expected_index = IndexKind.EXACT


class TestPdq(HashTypeContract):
    hash_type = types.PdqHash
    valid: ClassVar[list[str]] = [
        "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22",
        "0" * 64,
        "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff00",
    ]
    invalid: ClassVar[list[str]] = ["", "f8f8f0cee0f4a84f", "x" * 64, "f" * 65]
    near_pair = ("0" * 64, "f" * 7 + "0" * 57)  # 28 bits apart
    expected_index = IndexKind.HAMMING

    def sample_content(self) -> bytes:
        return encode(picture(1))

    def test_distance_counts_differing_bits(self) -> None:
        assert types.PdqHash.distance("0" * 64, "f" * 64) == 256
        assert types.PdqHash.distance("0" * 64, "f" * 8 + "0" * 56) == 32
        assert not types.PdqHash.matches("0" * 64, "f" * 8 + "0" * 56)
        assert types.PdqHash.matches("0" * 64, "f" * 7 + "7" + "0" * 56)  # exactly 31 bits

    def test_non_pictures_have_no_pdq(self) -> None:
        assert types.PdqHash.compute(b"not a picture at all") is None

    def test_low_quality_is_not_usable(self) -> None:
        assert not types.PdqHash.usable(49)
        assert types.PdqHash.usable(50)
        assert types.PdqHash.usable(None)


@pytest.mark.parametrize("name", ["photodna", "vpdq"])
def test_extension_points_are_named_but_refuse_values_with_the_reason(name: str) -> None:
    hash_type = types.get(name)
    assert not hash_type.available
    assert hash_type.index_kind is IndexKind.NONE
    assert hash_type not in types.matchable()
    with pytest.raises(HashTypeUnavailable, match="not implemented"):
        hash_type.normalise("00ff")
    assert hash_type.compute(b"anything") is None


def test_unknown_type_lists_the_known_ones() -> None:
    with pytest.raises(InputError, match="known: md5, pdq, photodna, sha1, sha256, vpdq"):
        types.get("crc32")


def test_guess_by_writing() -> None:
    assert [t.name for t in types.guess("9e107d9d372bb6826bd81d3542a419d6")] == ["md5"]
    assert {t.name for t in types.guess("a" * 64)} == {"sha256", "pdq"}
    assert types.guess("hello") == []


def test_a_second_type_cannot_take_a_registered_name() -> None:
    class Impostor(types.Md5Hash):
        pass

    with pytest.raises(ValueError, match="already registered"):
        types.register(Impostor)


def test_a_new_type_is_added_by_registering_it() -> None:
    class Crc32Hash(types.HexDigestType):
        name = "test_crc"
        label = "CRC test"
        digest_size = 4
        algorithm = "md5"  # only the validation is exercised here

    try:
        types.register(Crc32Hash)
        assert types.get("test_crc").normalise("DEADBEEF") == "deadbeef"
        assert Crc32Hash in types.matchable()
    finally:
        types.HASH_TYPES.pop("test_crc")
