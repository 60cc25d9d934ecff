"""Adaptive discriminator augmentation (``augment:`` in ``params.yaml``)."""

from __future__ import annotations

import dataclasses
from typing import Literal

from sfkeras.config.base import Section


@dataclasses.dataclass(frozen=True)
class AugmentConfig(Section):
    """StyleGAN2-ADA augmentation of every image the discriminator sees.

    Attributes:
        mode: ``ada`` (adaptive p), ``fixed`` (constant ``p``) or ``noaug``.
        pipeline: ``bgc`` (blit + geometric + colour), ``blit``, ``geom`` or ``color``.
        p: initial (``ada``) or constant (``fixed``) augmentation probability.
        target: ADA target of ``E[sign(D(real))]``.
        interval: adjust p every this many training steps.
        kimg: ADA speed: p can go from 0 to 1 in this many thousand images.
        max_p: upper bound on the probability the transforms use, ``min(p, max_p)``
            (0.7 for Styleformer-L: the original's ``aug_linformer``). As in the
            original, the ADA-adjusted ``p`` itself is clamped at 0 only.
    """

    mode: Literal["ada", "fixed", "noaug"] = "ada"
    pipeline: Literal["bgc", "blit", "geom", "color"] = "bgc"
    p: float = 0.0
    target: float = 0.6
    interval: int = 4
    kimg: float = 500.0
    max_p: float = 1.0

    def validate(self) -> None:
        if not 0.0 <= self.p <= 1.0:
            self.fail("p", "must be in [0, 1]")
        if not 0.0 < self.max_p <= 1.0:
            self.fail("max_p", "must be in (0, 1]")
        if self.interval < 1:
            self.fail("interval", "must be >= 1")
        if self.kimg <= 0:
            self.fail("kimg", "must be positive")
