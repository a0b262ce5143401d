"""Harmless synthetic pictures made in memory for the tests: gradients, shapes and noise, and edited copies."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance


def picture(seed: int, size: tuple[int, int] = (480, 360)) -> Image.Image:
    """A picture of a gradient in a random direction, a few coloured shapes and a little noise."""
    rng = np.random.default_rng(seed)
    width, height = size
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    ramp = (np.cos(angle) * x / width + np.sin(angle) * y / height + 1) / 2
    base = np.stack([ramp * rng.uniform(60, 255) for _ in range(3)], axis=-1)
    base += rng.normal(0, 6, base.shape)
    image = Image.fromarray(np.clip(base, 0, 255).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(image)
    for _ in range(int(rng.integers(8, 14))):
        x0, y0 = int(rng.integers(0, width - 40)), int(rng.integers(0, height - 40))
        x1, y1 = x0 + int(rng.integers(30, width // 2)), y0 + int(rng.integers(30, height // 2))
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        shape = int(rng.integers(3))
        if shape == 0:
            draw.rectangle((x0, y0, x1, y1), fill=colour)
        elif shape == 1:
            draw.ellipse((x0, y0, x1, y1), fill=colour)
        else:
            draw.polygon([(x0, y1), ((x0 + x1) // 2, y0), (x1, y1)], fill=colour)
    return image


def encode(image: Image.Image, fmt: str = "PNG", **options: object) -> bytes:
    """The picture as file bytes (in memory)."""
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def resized(image: Image.Image, factor: float) -> Image.Image:
    """A copy scaled by ``factor``."""
    width, height = image.size
    return image.resize((max(1, int(width * factor)), max(1, int(height * factor))), Image.Resampling.LANCZOS)


def recompressed(image: Image.Image, quality: int = 55) -> Image.Image:
    """A copy passed through lossy JPEG compression."""
    return Image.open(io.BytesIO(encode(image, "JPEG", quality=quality))).convert("RGB")


def cropped(image: Image.Image, share: float = 0.03) -> Image.Image:
    """A copy with ``share`` of each side cut away."""
    width, height = image.size
    dx, dy = int(width * share), int(height * share)
    return image.crop((dx, dy, width - dx, height - dy))


def brightened(image: Image.Image, factor: float = 1.2) -> Image.Image:
    """A copy with brightness scaled by ``factor``."""
    return ImageEnhance.Brightness(image).enhance(factor)


def flat(colour: tuple[int, int, int] = (128, 128, 128), size: tuple[int, int] = (200, 200)) -> Image.Image:
    """A picture of one colour: no detail, so its PDQ quality is low."""
    return Image.new("RGB", size, colour)
