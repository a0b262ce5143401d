"""Synthetic PDQ hashes with the structure of real banks, for the benchmarks and the recall tests.

No image is involved: hashes are drawn from a model of what PDQ produces, described in docs/matching.md.

- An image is a vector of 256 latent DCT-like coefficients: a low-rank part shared by all images (so bits are
  correlated, as neighbouring DCT coefficients are), a fixed per-position bias (so some bit positions are set
  far more often than others), and per-image noise.
- Its hash sets the bits whose coefficient lies above the image's own median, as PDQ does: every hash has
  128 bits set, yet bit frequencies across hashes are uneven (between roughly 20% and 80%).
- A family of near-duplicates (re-encodes, resizes, small edits) perturbs the coefficients of its root image and
  re-thresholds them, so the bits that flip are the ones near the median, as with real edits. The perturbation
  size is drawn per copy, giving distances from 0 to beyond the match threshold. Family sizes are heavy-tailed:
  most images have one or two copies, a few popular ones have hundreds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

BITS = 256
LATENT_RANK = 12
"""Rank of the shared structure: a dozen directions explain most of the correlation in the model."""
BIAS_SCALE = 0.6
"""Spread of the per-position bias; 0.6 gives bit frequencies between about 20% and 80%."""
_BLOCK = 262_144


@dataclass(frozen=True)
class PdqModel:
    """The fixed part of the model: the shared directions and the per-position bias."""

    directions: np.ndarray  # (LATENT_RANK, BITS) float32
    bias: np.ndarray  # (BITS,) float32

    @classmethod
    def create(cls, seed: int = 0) -> PdqModel:
        """A model drawn from ``seed`` (the same seed gives the same model)."""
        rng = np.random.default_rng(seed)
        # Directions weigh low positions more, as low DCT frequencies carry most of an image's structure.
        decay = np.linspace(1.0, 0.3, BITS, dtype=np.float32)
        directions = rng.standard_normal((LATENT_RANK, BITS), dtype=np.float32) * decay * 0.5
        bias = rng.standard_normal(BITS, dtype=np.float32) * BIAS_SCALE
        return cls(directions=directions, bias=bias)

    def coefficients(self, count: int, rng: np.random.Generator) -> np.ndarray:
        """Latent coefficients of ``count`` unrelated images, (count, BITS) float32."""
        latent = rng.standard_normal((count, LATENT_RANK), dtype=np.float32)
        noise = rng.standard_normal((count, BITS), dtype=np.float32)
        coefficients: np.ndarray = latent @ self.directions + self.bias + noise
        return coefficients


def threshold(coefficients: np.ndarray) -> np.ndarray:
    """Hashes (n, 32) uint8 from coefficients: bits above each row's median are set, as in PDQ."""
    middle = np.partition(coefficients, (BITS // 2 - 1, BITS // 2), axis=1)
    median = (middle[:, BITS // 2 - 1 : BITS // 2] + middle[:, BITS // 2 : BITS // 2 + 1]) / 2
    hashes: np.ndarray = np.packbits(coefficients > median, axis=1)
    return hashes


def perturb(coefficients: np.ndarray, scales: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Copies of images with each row's coefficients moved by noise of the given scale."""
    noise = rng.standard_normal(coefficients.shape, dtype=np.float32)
    return coefficients + noise * scales[:, None].astype(np.float32)


def copy_scales(count: int, rng: np.random.Generator) -> np.ndarray:
    """Perturbation sizes for near-duplicates: mostly light edits, some heavy ones beyond the threshold.

    A scale of s flips about 50*s bits on this model (0.1: 5, 0.4: 20, 0.6: 29, 0.9: about 42).
    """
    kind = rng.random(count)
    light = rng.uniform(0.0, 0.16, count)
    medium = rng.uniform(0.16, 0.55, count)
    heavy = rng.uniform(0.55, 1.0, count)
    return np.where(kind < 0.55, light, np.where(kind < 0.9, medium, heavy)).astype(np.float32)


def family_sizes(count: int, rng: np.random.Generator) -> np.ndarray:
    """Heavy-tailed family sizes (Zipf, exponent 2.2, capped at 500): mean about 2."""
    return np.minimum(rng.zipf(2.2, count), 500)


def bank(size: int, *, seed: int = 1, model: PdqModel | None = None) -> tuple[np.ndarray, np.ndarray]:
    """A bank of ``size`` hashes in families; returns (hashes (size, 32) uint8, family root index per hash).

    The roots' coefficients are not returned; use :func:`bank_with_roots` to make held-out copies.
    """
    hashes, family, _ = bank_with_roots(size, seed=seed, model=model)
    return hashes, family


def bank_with_roots(
    size: int, *, seed: int = 1, model: PdqModel | None = None, keep_roots: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Like :func:`bank`, also returning the coefficients of the first ``keep_roots`` families' roots."""
    model = model or PdqModel.create()
    rng = np.random.default_rng(seed)
    hashes = np.empty((size, BITS // 8), dtype=np.uint8)
    family = np.empty(size, dtype=np.int64)
    kept: list[np.ndarray] = []
    filled = 0
    first_root = 0
    while filled < size:
        roots = model.coefficients(_BLOCK // 2, rng)
        sizes = family_sizes(len(roots), rng)
        ends = np.cumsum(sizes)
        take = int(np.searchsorted(ends, size - filled, side="left")) + 1
        roots, sizes = roots[:take], sizes[:take]
        if len(kept) * _BLOCK < keep_roots:
            kept.append(roots[: keep_roots - sum(len(k) for k in kept)])
        owner = np.repeat(np.arange(len(roots)), sizes)
        # The first member of each family is the root itself, the others are perturbed copies of it.
        scales = copy_scales(len(owner), rng)
        first = np.concatenate(([0], np.cumsum(sizes)[:-1]))
        scales[first] = 0.0
        for start in range(0, len(owner), _BLOCK):
            part = owner[start : start + _BLOCK]
            block = threshold(perturb(roots[part], scales[start : start + _BLOCK], rng))
            room = min(len(block), size - filled)
            hashes[filled : filled + room] = block[:room]
            family[filled : filled + room] = part[:room] + first_root
            filled += room
            if filled >= size:
                break
        first_root += len(roots)
    roots_kept = np.concatenate(kept) if kept else np.empty((0, BITS), np.float32)
    return hashes, family, roots_kept


def held_out_copies(roots: np.ndarray, *, seed: int = 2) -> np.ndarray:
    """New near-duplicates of the given roots (not in the bank), one per root, at assorted distances."""
    rng = np.random.default_rng(seed)
    return threshold(perturb(roots, copy_scales(len(roots), rng), rng))


def unrelated(count: int, *, seed: int = 3, model: PdqModel | None = None) -> np.ndarray:
    """Hashes of images unrelated to any bank (same model, different draws)."""
    model = model or PdqModel.create()
    rng = np.random.default_rng(seed)
    return threshold(model.coefficients(count, rng))


def flip_bits(hashes: np.ndarray, distance: int, *, seed: int = 4) -> np.ndarray:
    """Copies of ``hashes`` with exactly ``distance`` random bits flipped in each (for threshold edges)."""
    rng = np.random.default_rng(seed)
    bits = np.unpackbits(hashes, axis=1)
    for row in range(len(bits)):
        bits[row, rng.choice(BITS, size=distance, replace=False)] ^= 1
    return np.packbits(bits, axis=1)
