"""Hash algorithms as plug-ins: each validates and normalises its values, compares two, and names its index.

A new algorithm is a new class registered with :func:`register`; nothing else needs wiring. PhotoDNA and video
hashes are registered as named extension points that refuse every value with the reason, rather than being
imitated.
"""

from __future__ import annotations

import enum
import hashlib
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

from clearinghouse.errors import InputError, shortened
from clearinghouse.hashing.settings import PDQ_MATCH_DISTANCE, PDQ_MIN_QUALITY


class IndexKind(enum.StrEnum):
    """Which index serves a hash type."""

    EXACT = "exact"
    """Equal values only: the exact index of 64-bit prefixes (``exact_index``)."""
    HAMMING = "hamming"
    """Values within a Hamming distance: the perceptual index (``pdq_index``)."""
    NONE = "none"
    """Not matched: an extension point without an implementation."""


class HashFormatError(InputError):
    """A hash value that its type does not accept: which type, what was expected, what was given."""


class HashTypeUnavailable(InputError):
    """A hash type that is named but not implemented here; the message says why."""


@dataclass(frozen=True)
class ComputedHash:
    """A hash computed from content: its type, normalised value and (for PDQ) quality."""

    hash_type: str
    value: str
    quality: int | None = None


class HashType(ABC):
    """One hash algorithm. Subclasses are used as classes (never instantiated)."""

    name: ClassVar[str]
    """Identifier used in the store, in files and on the command line (lower case)."""
    label: ClassVar[str]
    """Name for people."""
    index_kind: ClassVar[IndexKind]
    available: ClassVar[bool] = True
    match_distance: ClassVar[int] = 0
    """Largest distance at which two values are the same content (0 for exact hashes)."""

    @classmethod
    @abstractmethod
    def normalise(cls, value: str) -> str:
        """The canonical form of ``value``, or :class:`HashFormatError` saying what was expected."""

    @classmethod
    def is_valid(cls, value: str) -> bool:
        """Whether ``value`` is accepted by :meth:`normalise`."""
        try:
            cls.normalise(value)
        except InputError:
            return False
        return True

    @classmethod
    @abstractmethod
    def distance(cls, left: str, right: str) -> int:
        """How far apart two values are (both are normalised first); 0 means identical."""

    @classmethod
    def matches(cls, left: str, right: str) -> bool:
        """Whether two values denote the same content."""
        return cls.distance(left, right) <= cls.match_distance

    @classmethod
    @abstractmethod
    def compute(cls, content: bytes) -> ComputedHash | None:
        """The hash of ``content`` held in memory, or None when the algorithm does not apply to it."""


class HexDigestType(HashType):
    """A cryptographic digest written as lower-case hexadecimal; equal digests mean identical bytes."""

    digest_size: ClassVar[int]
    algorithm: ClassVar[str]
    index_kind = IndexKind.EXACT

    @classmethod
    def normalise(cls, value: str) -> str:
        text = str(value).strip().lower()
        if len(text) != 2 * cls.digest_size or not _HEX.fullmatch(text):
            raise HashFormatError(
                cls.name, f"expected {2 * cls.digest_size} hexadecimal digits", shortened(str(value), _SHOWN)
            )
        return text

    @classmethod
    def distance(cls, left: str, right: str) -> int:
        # Digests have no notion of nearness: any difference in the bytes changes the whole digest.
        return 0 if cls.normalise(left) == cls.normalise(right) else 1

    @classmethod
    def compute(cls, content: bytes) -> ComputedHash:
        digest = hashlib.new(cls.algorithm, content, usedforsecurity=False).hexdigest()
        return ComputedHash(cls.name, digest)


class Md5Hash(HexDigestType):
    """MD5: what platforms report and Project VIC lists carry for every file."""

    name = "md5"
    label = "MD5"
    digest_size = 16
    algorithm = "md5"


class Sha1Hash(HexDigestType):
    """SHA-1: carried beside MD5 in Project VIC and law-enforcement case files."""

    name = "sha1"
    label = "SHA-1"
    digest_size = 20
    algorithm = "sha1"


class Sha256Hash(HexDigestType):
    """SHA-256: the digest newer platforms report."""

    name = "sha256"
    label = "SHA-256"
    digest_size = 32
    algorithm = "sha256"


class PdqHash(HashType):
    """PDQ: Meta's open perceptual hash of pictures, 256 bits; near values are visually similar pictures."""

    name = "pdq"
    label = "PDQ"
    index_kind = IndexKind.HAMMING
    match_distance = PDQ_MATCH_DISTANCE
    min_quality: ClassVar[int] = PDQ_MIN_QUALITY
    bits: ClassVar[int] = 256

    @classmethod
    def normalise(cls, value: str) -> str:
        text = str(value).strip().lower()
        if len(text) != cls.bits // 4 or not _HEX.fullmatch(text):
            raise HashFormatError(
                cls.name, f"expected {cls.bits // 4} hexadecimal digits", shortened(str(value), _SHOWN)
            )
        return text

    @classmethod
    def distance(cls, left: str, right: str) -> int:
        return (int(cls.normalise(left), 16) ^ int(cls.normalise(right), 16)).bit_count()

    @classmethod
    def usable(cls, quality: int | None, value: str | None = None) -> bool:
        """Whether a hash of this quality may be matched (an unknown quality is given the benefit), the value being
        none of :meth:`flat`'s."""
        if value is not None and cls.flat(value):
            return False
        return quality is None or quality >= cls.min_quality

    @classmethod
    def flat(cls, value: str) -> bool:
        """Whether ``value`` is 256 zeros: what PDQ gives a flat picture (with quality 0). Given without its
        quality, it would otherwise be matched, and lies within the threshold of every other blank frame's."""
        return not value.strip("0")

    @classmethod
    def compute(cls, content: bytes) -> ComputedHash | None:
        from clearinghouse.hashing.image import pdq_from_bytes

        computed = pdq_from_bytes(content)
        if computed is None:
            return None
        value, quality = computed
        return ComputedHash(cls.name, value, quality)


class UnavailableHashType(HashType):
    """A named extension point: values are refused with :attr:`reason` until an implementation exists."""

    available = False
    index_kind = IndexKind.NONE
    reason: ClassVar[str]

    @classmethod
    def normalise(cls, value: str) -> str:
        raise HashTypeUnavailable(cls.name, cls.reason, shortened(str(value), _SHOWN))

    @classmethod
    def distance(cls, left: str, right: str) -> int:
        raise HashTypeUnavailable(cls.name, cls.reason)

    @classmethod
    def compute(cls, content: bytes) -> ComputedHash | None:
        return None


class PhotoDnaHash(UnavailableHashType):
    """PhotoDNA: Microsoft's perceptual hash, the one most clearinghouse lists are shared in."""

    name = "photodna"
    label = "PhotoDNA"
    reason = (
        "not implemented: PhotoDNA is licensed by Microsoft to vetted organisations and its algorithm and "
        "comparison are not public; plug in a licensed library as a HashType subclass"
    )


class VpdqHash(UnavailableHashType):
    """vPDQ: per-frame PDQ hashes of a video, compared as sets of frames."""

    name = "vpdq"
    label = "vPDQ (video)"
    reason = (
        "not implemented: video matching needs frame decoding and a frame-set comparison (vPDQ); "
        "add it as a HashType subclass with its own index"
    )


_HEX = re.compile(r"[0-9a-f]+")
_SHOWN = 80
"""Characters of a refused value a message repeats: more than the longest digest's 64, so that a digest a few
digits too long is shown whole."""
HASH_TYPES: dict[str, type[HashType]] = {}


def register(hash_type: type[HashType]) -> type[HashType]:
    """Make ``hash_type`` known by its name; refuses a second type with the same name."""
    existing = HASH_TYPES.get(hash_type.name)
    if existing is not None and existing is not hash_type:
        raise ValueError(f"hash type {hash_type.name!r} is already registered by {existing.__qualname__}")
    HASH_TYPES[hash_type.name] = hash_type
    return hash_type


def get(name: str) -> type[HashType]:
    """The hash type called ``name`` (case-insensitive), or an :class:`InputError` listing the known ones."""
    found = HASH_TYPES.get(str(name).strip().lower())
    if found is None:
        raise InputError("hash_type", f"unknown hash type; known: {', '.join(sorted(HASH_TYPES))}", name)
    return found


def matchable() -> list[type[HashType]]:
    """The registered types that can be matched (extension points excluded)."""
    return [hash_type for hash_type in HASH_TYPES.values() if hash_type.available]


def guess(value: str) -> list[type[HashType]]:
    """The available types that accept ``value`` as written (a 64-digit value fits both SHA-256 and PDQ)."""
    return [hash_type for hash_type in matchable() if hash_type.is_valid(value)]


for _type in (Md5Hash, Sha1Hash, Sha256Hash, PdqHash, PhotoDnaHash, VpdqHash):
    register(_type)
