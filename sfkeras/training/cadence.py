"""When the training loop logs, draws samples, evaluates and checkpoints.

Each is due when the image count crosses a multiple of its interval (``train.log_kimg``,
``snapshot_kimg``, ``metrics_kimg``, ``checkpoint_kimg``) during a step; logs, samples
and metrics are also due at the end (``train.kimg``).
"""

from __future__ import annotations

import dataclasses
import math

from sfkeras.config import TrainConfig


@dataclasses.dataclass(frozen=True)
class Due:
    """What is due after a step."""

    log: bool
    samples: bool
    metrics: bool
    checkpoint: bool


def crossed(previous_nimg: int, nimg: int, every_kimg: float) -> bool:
    """Whether a multiple of ``every_kimg`` lies in ``(previous_nimg, nimg]``."""
    every = every_kimg * 1000
    return math.floor(nimg / every) > math.floor(previous_nimg / every)


def due_after(train: TrainConfig, previous_nimg: int, nimg: int) -> Due:
    """What is due after a step that took the image count from ``previous_nimg`` to ``nimg``."""
    end = nimg >= train.kimg * 1000
    return Due(
        log=crossed(previous_nimg, nimg, train.log_kimg) or end,
        samples=crossed(previous_nimg, nimg, train.snapshot_kimg) or end,
        metrics=train.metrics_kimg > 0 and (crossed(previous_nimg, nimg, train.metrics_kimg)
                                            or end),
        checkpoint=crossed(previous_nimg, nimg, train.checkpoint_kimg),
    )
