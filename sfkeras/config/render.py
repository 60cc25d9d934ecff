"""Figures rendered from the trained generator (``render:`` in ``params.yaml``)."""

from __future__ import annotations

import dataclasses
from typing import Literal

from sfkeras.config.base import Section


@dataclasses.dataclass(frozen=True)
class RenderConfig(Section):
    """Seeds and options of every rendered figure.

    Attributes:
        network: ``final`` (the run's last G_ema, ``data/train/G_ema.keras``) or ``best``
            (its snapshot of lowest FID, ``data/train/G_best.keras``).
        grid_seeds: number of seeds (0, 1, ...) in the sample grid.
        truncation_psis: psi values of the truncation sweep.
        mixing_row_seeds, mixing_col_seeds: seeds of the style-mixing grid; rows give
            the coarse styles, columns the fine ones.
        mixing_from_layer: first w index taken from the column seed.
        interpolation_seeds: latent keyframes of the animated GIF.
        interpolation_frames: frames between two keyframes.
        attention_seed: seed of the image whose attention maps are drawn.
        attention_layer: index of the encoder layer whose attention maps are drawn.
        attention_pixels: query pixels ``[row, col]`` (in that layer's resolution).
    """

    network: Literal["final", "best"] = "final"
    grid_seeds: int = 64
    truncation_psis: tuple[float, ...] = (1.0, 0.8, 0.6, 0.4, 0.2, 0.0)
    mixing_row_seeds: tuple[int, ...] = (1, 2, 3, 4)
    mixing_col_seeds: tuple[int, ...] = (10, 11, 12, 13)
    mixing_from_layer: int = 2
    interpolation_seeds: tuple[int, ...] = (0, 1, 2, 3)
    interpolation_frames: int = 16
    attention_seed: int = 0
    attention_layer: int = 0
    attention_pixels: tuple[tuple[int, ...], ...] = ((2, 2), (4, 5))

    def validate(self) -> None:
        if self.grid_seeds < 1:
            self.fail("grid_seeds", "must be >= 1")
        if self.interpolation_frames < 1:
            self.fail("interpolation_frames", "must be >= 1")
        if len(self.interpolation_seeds) < 2:
            self.fail("interpolation_seeds", "needs at least two seeds")
        if any(len(pixel) != 2 for pixel in self.attention_pixels):
            self.fail("attention_pixels", "every entry must be [row, col]")
