"""The divergence guard: stop a run whose losses stay beyond a bound.

A non-finite loss stops training at once (``loop.NonFiniteLossError``). A run can also
blow up without overflowing: with absurd learning rates the losses sit at 1e17 for
the whole run and the diverged networks are saved as if trained. The guard stops such
a run once ``loss/G`` or ``loss/D`` has been beyond ``train.divergence_loss`` (in
absolute value) for ``train.divergence_steps`` consecutive steps. While any step of
such a streak is pending, the loop writes no checkpoint, so the newest checkpoint is
the last one taken before the losses left the bound.
"""

from __future__ import annotations

from collections.abc import Mapping

from sfkeras.errors import SfkerasError

#: The losses the guard watches: the main objectives of G and D (per-sample means).
GUARDED_LOSSES = ("loss/G", "loss/D")


class DivergedLossError(SfkerasError, FloatingPointError):
    """The losses stayed beyond ``train.divergence_loss``; the last checkpoint is kept."""

    exit_code = 5
    kind = "training diverged"


class DivergenceGuard:
    """Counts consecutive steps whose guarded losses are beyond ``bound``.

    Args:
        bound: largest acceptable ``|loss|`` (``None``: the guard is off).
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
        """Record step ``step``'s losses; raise once the streak reaches ``steps``.

        Raises:
            DivergedLossError: naming the losses, the keys that set the bound, and the
                checkpoint that was kept.
        """
        if self.bound is None:
            return
        beyond = {name: stats[name] for name in GUARDED_LOSSES
                  if name in stats and abs(stats[name]) > self.bound}
        self._streak = self._streak + 1 if beyond else 0
        if self._streak < self.steps:
            return
        values = ", ".join(f"{name} = {value:.4g}" for name, value in beyond.items())
        kept = f"the last checkpoint {last_checkpoint} is intact" if last_checkpoint \
            else "no checkpoint was written yet"
        raise DivergedLossError(
            f"losses beyond train.divergence_loss = {self.bound:g} for {self.steps} "
            f"consecutive steps (train.divergence_steps), at step {step}: {values}. Training "
            f"stopped; {kept}. Lower the learning rates or raise r1_gamma, then resume; or "
            "raise train.divergence_loss if such losses are expected")
