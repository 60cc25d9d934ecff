"""Pillow helpers that turn any decoded image into a square ``uint8`` RGB array.

Resampling is Pillow's Lanczos filter, the default of the original ``dataset_tool.py``.
PNG encoding uses zlib level 0 (stored blocks), also as the original does: the bytes do
not depend on the zlib version, so prepared shards hash the same on every machine, and
decoding is as cheap as it gets.
"""

from __future__ import annotations

import io
from typing import Literal

import numpy as np
import PIL.Image

RESAMPLE = PIL.Image.Resampling.LANCZOS
ALPHA_BACKGROUND = (255, 255, 255)
"""Colour that transparent pixels are composited onto."""

CELEBA_ALIGNED_SIZE = (178, 218)
"""``(width, height)`` of CelebA's aligned-and-cropped images (``img_align_celeba``)."""
CELEBA_FACE_BOX = (25, 57, 153, 185)
"""``(left, top, right, bottom)``: the 128x128 square centred on pixel ``(x=89, y=121)`` of an
aligned CelebA image, the face crop of Progressive GAN's ``dataset_tool.py create_celeba``
(``img[cy - 64 : cy + 64, cx - 64 : cx + 64]`` with ``cx=89, cy=121``) used by the
CelebA-64/128 GAN benchmarks."""


def to_rgb(image: PIL.Image.Image) -> PIL.Image.Image:
    """Convert grayscale, palette, CMYK, ... to RGB; transparency is composited onto white.

    16-bit grayscale (Pillow modes ``I;16*`` and ``I``) keeps its 8 most significant bits.
    """
    if image.mode.startswith("I"):
        pixels = np.asarray(image).astype(np.int64) >> 8
        image = PIL.Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "L")
    has_alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
    if has_alpha:
        rgba = image.convert("RGBA")
        background = PIL.Image.new("RGBA", rgba.size, (*ALPHA_BACKGROUND, 255))
        return PIL.Image.alpha_composite(background, rgba).convert("RGB")
    return image if image.mode == "RGB" else image.convert("RGB")


def crop_celeba_face(image: PIL.Image.Image) -> PIL.Image.Image:
    """Cut :data:`CELEBA_FACE_BOX` out of an aligned 178x218 CelebA image."""
    if image.size != CELEBA_ALIGNED_SIZE:
        raise ValueError(f"the celeba crop expects aligned CelebA images of "
                         f"{CELEBA_ALIGNED_SIZE[0]}x{CELEBA_ALIGNED_SIZE[1]} (width x height), "
                         f"got {image.size[0]}x{image.size[1]}; use crop: center for other data")
    return image.crop(CELEBA_FACE_BOX)


def fit_square(
    image: PIL.Image.Image, resolution: int, policy: Literal["center_crop", "stretch"]
) -> np.ndarray:
    """Resize an RGB image to ``uint8 [resolution, resolution, 3]``.

    Args:
        image: RGB image of any size.
        resolution: output side length.
        policy: ``center_crop`` cuts the largest centred square first (for odd margins the
            extra pixel goes to the right/bottom, as in the original); ``stretch`` resizes
            the whole image, changing its aspect ratio.
    """
    width, height = image.size
    if policy == "center_crop" and width != height:
        side = min(width, height)
        left, top = (width - side) // 2, (height - side) // 2
        image = image.crop((left, top, left + side, top + side))
    if image.size != (resolution, resolution):
        image = image.resize((resolution, resolution), RESAMPLE)
    return np.asarray(image, dtype=np.uint8)


def encode_png(pixels: np.ndarray) -> bytes:
    """PNG bytes (zlib level 0) of a ``uint8 [H, W, 3]`` array."""
    buffer = io.BytesIO()
    PIL.Image.fromarray(pixels, "RGB").save(buffer, format="png", compress_level=0)
    return buffer.getvalue()


def image_grid(images: list[np.ndarray], columns: int, min_tile: int = 64) -> PIL.Image.Image:
    """Tile ``uint8 [H, W, 3]`` images row by row, enlarged (nearest) to ``>= min_tile`` px."""
    rows = -(-len(images) // columns)
    height, width, _ = images[0].shape
    canvas = np.zeros((rows * height, columns * width, 3), np.uint8)
    for index, pixels in enumerate(images):
        row, column = divmod(index, columns)
        canvas[row * height:(row + 1) * height, column * width:(column + 1) * width] = pixels
    scale = max(1, -(-min_tile // height))
    grid = PIL.Image.fromarray(canvas)
    return grid.resize((grid.width * scale, grid.height * scale), PIL.Image.Resampling.NEAREST)
