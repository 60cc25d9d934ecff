"""Generator outputs as pictures: latents from seeds, float -> uint8, grids, PNG files.

Shared by training snapshots, metrics, rendering and export so that every picture of
the project is made the same way as the original's (StyleGAN2-ADA ``generate.py``).
"""

from __future__ import annotations

import pathlib
from collections.abc import Sequence

import numpy as np
from PIL import Image


def z_from_seeds(seeds: Sequence[int], z_dim: int) -> np.ndarray:
    """Latents ``[len(seeds), z_dim]`` float32, one per seed.

    Seed ``s`` gives ``np.random.RandomState(s).randn(z_dim)``, the original's
    ``generate.py`` convention, so a seed names the same latent as there.
    """
    return np.stack([np.random.RandomState(seed).randn(z_dim) for seed in seeds]).astype(
        np.float32)


def to_uint8(images) -> np.ndarray:
    """Generator images (float, ~[-1, 1]) -> uint8, as the original's metrics and
    ``generate.py``: ``clip(x * 127.5 + 128, 0, 255)`` in float32, truncated toward zero.

    Shapes are kept (e.g. ``[N, H, W, C]``).
    """
    scaled = np.asarray(images, np.float32) * np.float32(127.5) + np.float32(128)
    return np.clip(scaled, 0, 255).astype(np.uint8)


def image_grid(images: np.ndarray, columns: int, padding: int = 0) -> np.ndarray:
    """Tile ``[N, H, W, C]`` uint8 images row by row into one ``[rows*H, columns*W, C]``.

    Missing cells of the last row (and ``padding`` pixels between cells) are black.
    """
    images = np.asarray(images)
    count, height, width, channels = images.shape
    rows = -(-count // columns)
    cell_h, cell_w = height + padding, width + padding
    grid = np.zeros((rows * cell_h - padding, columns * cell_w - padding, channels), images.dtype)
    for index, image in enumerate(images):
        row, col = divmod(index, columns)
        grid[row * cell_h : row * cell_h + height, col * cell_w : col * cell_w + width] = image
    return grid


#: Width below which figures for people are enlarged (:func:`enlarge`).
DISPLAY_WIDTH = 512


def enlarge(images: np.ndarray, min_width: int = DISPLAY_WIDTH) -> np.ndarray:
    """Nearest-neighbour upscaling of ``[..., H, W, C]`` by the smallest integer factor
    that makes ``W >= min_width`` (unchanged when already as wide): pixels stay sharp."""
    images = np.asarray(images)
    factor = max(1, -(-min_width // images.shape[-2]))
    return images.repeat(factor, axis=-3).repeat(factor, axis=-2)


def save_png(image: np.ndarray, path: str | pathlib.Path) -> pathlib.Path:
    """Write an ``[H, W, 3]`` (or ``[H, W, 1]``) uint8 array as PNG; returns the path."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    image = np.asarray(image)
    Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image).save(path)
    return path
