"""The sample grids of a run: G_ema's images of fixed seeds, saved as training goes.

``out_dir/samples/fakes<nimg>.png`` (nimg zero-padded to 10 digits) holds an 8-column
grid of :data:`SAMPLE_SEEDS`, with constant noise, enlarged for people (a conditional
generator's row ``r`` of class ``r mod c_dim``). A resumed run
drops the grids an interrupted call wrote after its restored checkpoint
(:func:`prune_samples`), so the series has no duplicate or gap.
"""

from __future__ import annotations

import math
import pathlib

import keras
import numpy as np

from sfkeras.images import enlarge, image_grid, save_png, to_uint8, z_from_seeds
from sfkeras.labels import row_labels

#: Seeds of the latents of the sample grids (``np.random.RandomState(seed).randn``).
SAMPLE_SEEDS = tuple(range(64))
SAMPLE_GRID_COLUMNS = 8


def sample_images(generator, seeds=SAMPLE_SEEDS, batch_size: int = 16) -> np.ndarray:
    """uint8 images ``[len(seeds), H, W, C]`` of ``generator`` with constant noise.

    The latent of seed ``s`` is the original's ``np.random.RandomState(s).randn(z_dim)``;
    a conditional generator's image ``i`` has class ``(i // SAMPLE_GRID_COLUMNS) mod
    c_dim`` (a class per row of the grid).
    """
    z = z_from_seeds(seeds, generator.z_dim)
    c = row_labels(math.ceil(len(z) / SAMPLE_GRID_COLUMNS), SAMPLE_GRID_COLUMNS,
                   generator.c_dim)[:len(z)] if generator.c_dim else None
    return np.concatenate([
        to_uint8(keras.ops.convert_to_numpy(generator(
            z[i:i + batch_size], None if c is None else c[i:i + batch_size],
            noise_mode="const")))
        for i in range(0, len(z), batch_size)])


def save_sample_grid(generator, folder: pathlib.Path, nimg: int) -> None:
    """Write ``folder/fakes<nimg>.png``: the grid of :data:`SAMPLE_SEEDS`."""
    grid = image_grid(sample_images(generator), SAMPLE_GRID_COLUMNS)
    save_png(enlarge(grid), folder / f"fakes{nimg:010d}.png")


def prune_samples(folder: pathlib.Path, after_nimg: int | None) -> None:
    """Delete the sample grids ``fakes<nimg>.png`` of ``folder`` past ``after_nimg``
    (``None``: all of them, for a run whose history starts afresh)."""
    for grid in folder.glob("fakes*.png"):
        if after_nimg is None or int(grid.stem.removeprefix("fakes")) > after_nimg:
            grid.unlink()
