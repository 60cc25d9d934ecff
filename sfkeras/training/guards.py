"""The loss guard: stop a run whose losses are not finite, or stay beyond a bound.

A non-finite loss (NaN or infinite) stops training at once. A run can also blow up
without overflowing: with absurd learning rates the losses sit at 1e17 for the whole
run and the diverged networks are saved as if trained. The guard stops such a run once
``loss/G`` or ``loss/D`` has been beyond ``train.divergence_loss`` (in absolute value)
for ``train.divergence_steps`` consecutive steps. While any step of such a streak is
pending, the loop writes no checkpoint, so the newest checkpoint is the last one taken
before the losses left the bound. Either way :class:`~sfkeras.errors.TrainingDiverged`
names the losses, their phases, and the checkpoint that was kept.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from sfkeras.errors import TrainingDiverged
from sfkeras.training.loss import PHASE_OF_STAT

#: The losses the divergence bound watches: the main objectives of G and D.
GUARDED_LOSSES = ("loss/G", "loss/D")
ADVICE = "Lower the learning rates or raise r1_gamma, then resume"


class LossGuard:
    """Checks each step's losses.

    Args:
        bound: largest acceptable ``|loss|`` of :data:`GUARDED_LOSSES` (``None``: no bound).
        steps: consecutive steps beyond ``bound`` that stop the run.
    """

    def __init__(self, bound: float | None, steps: int):
        self.bound = bound
        self.steps = steps
        self._streak = 0

    @property
    def healthy(self) -> bool:
        """Whether the last step's losses were within the bound (checkpoints may be written)."""
        return self._streak == 0

    def check(self, stats: Mapping[str, float], step: int, last_checkpoint: str | None) -> None:
        """Record step ``step``'s losses; raise on a non-finite one, or once a streak
        beyond the bound reaches ``steps``.

        Raises:
            TrainingDiverged: naming the losses and phases, and the checkpoint kept.
        """
        bad = {name: value for name, value in stats.items() if not math.isfinite(value)}
        if bad:
            raise TrainingDiverged(f"non-finite loss at step {step}: {_describe(bad)}. "
                                   f"Training stopped; {_kept(last_checkpoint)}. {ADVICE}.")
        if self.bound is None:
            return
        beyond = {name: stats[name] for name in GUARDED_LOSSES
                  if name in stats and abs(stats[name]) > self.bound}
        self._streak = self._streak + 1 if beyond else 0
        if self._streak >= self.steps:
            raise TrainingDiverged(
                f"losses beyond train.divergence_loss = {self.bound:g} for {self.steps} "
                f"consecutive steps (train.divergence_steps), at step {step}: "
                f"{_describe(beyond)}. Training stopped; {_kept(last_checkpoint)}. {ADVICE}; "
                "or raise train.divergence_loss if such losses are expected")


def _describe(losses: Mapping[str, float]) -> str:
    return ", ".join(f"{name} = {value:.4g} in phase {PHASE_OF_STAT.get(name, '?')}"
                     for name, value in losses.items())


def _kept(last_checkpoint: str | None) -> str:
    return f"the last checkpoint {last_checkpoint} is intact" if last_checkpoint \
        else "no checkpoint was written yet"
