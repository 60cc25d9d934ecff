"""The training loop: steps until ``train.kimg``, with the chief's logs, samples,
metrics and checkpoints at their cadence (:mod:`sfkeras.training.cadence`).

At a kimg where several things are due, the checkpoint is written last: a run killed
before it resumes from the previous checkpoint and logs, draws and evaluates that kimg
again, so the history has no gap. No checkpoint is written while the losses are beyond
their bound (:class:`~sfkeras.training.guards.LossGuard`).
"""

from __future__ import annotations

import pathlib

from sfkeras.training.cadence import Due, due_after
from sfkeras.training.checkpoint import TrainingCheckpoint
from sfkeras.training.evaluation import TrainingMetrics, evaluate_and_log
from sfkeras.training.guards import LossGuard
from sfkeras.training.interrupts import raise_if_stop_requested, stop_requested
from sfkeras.training.logging import LossWindow, TrainingLogger
from sfkeras.training.samples import save_sample_grid
from sfkeras.training.trainer import Trainer


def training_loop(trainer: Trainer, batches, checkpoint: TrainingCheckpoint,
                  window: LossWindow, logger: TrainingLogger | None, out_dir: pathlib.Path,
                  max_steps: int | None,
                  metrics: TrainingMetrics | None) -> dict[str, float] | None:
    """Train until ``train.kimg`` (or ``max_steps`` steps, or a stop request).

    Args:
        batches: iterator of distributed batches of real images.
        window: the statistics since the last log row (saved with each checkpoint).
        logger: the chief's logger (``None`` on other workers: they only train and save).

    Returns:
        The metrics of the final G_ema when this call evaluated them at ``train.kimg``.

    Raises:
        TrainingDiverged: see :class:`~sfkeras.training.guards.LossGuard`.
        TrainingInterrupted: a stop was requested (after a checkpoint of the last step).
    """
    train = trainer.config.train
    nimg = int(trainer.cur_nimg.numpy())
    guard = LossGuard(train.divergence_loss, train.divergence_steps)
    saved_at = nimg if checkpoint.latest else -1
    checkpoint_due, results, steps = False, None, 0
    while nimg < train.kimg * 1000 and (max_steps is None or steps < max_steps) \
            and not stop_requested():
        step = int(trainer.step.numpy())
        stats = trainer.run_step(next(batches))
        guard.check(stats, step, checkpoint.latest)
        steps += 1
        previous, nimg = nimg, int(trainer.cur_nimg.numpy())
        window.add(stats)
        due = due_after(train, previous, nimg)
        if logger is not None:
            results = _chief_duties(trainer, logger, window, due, out_dir, metrics) or results
        checkpoint_due |= due.checkpoint
        if checkpoint_due and guard.healthy:  # no checkpoint of a diverging state
            save_checkpoint(checkpoint, window, step + 1)
            saved_at, checkpoint_due = nimg, False
    if saved_at != nimg and guard.healthy:
        save_checkpoint(checkpoint, window, int(trainer.step.numpy()))
    raise_if_stop_requested(int(trainer.step.numpy()), checkpoint.latest)
    return results if nimg >= train.kimg * 1000 else None


def _chief_duties(trainer: Trainer, logger: TrainingLogger, window: LossWindow, due: Due,
                  out_dir: pathlib.Path,
                  metrics: TrainingMetrics | None) -> dict[str, float] | None:
    """Progress, and the log row, sample grid and metrics that are due; returns the
    metrics when evaluated."""
    nimg = int(trainer.cur_nimg.numpy())
    logger.update_progress(nimg / 1000, window.means())
    if due.log:
        logger.log(nimg / 1000, window.close(nimg))
    if due.samples:
        save_sample_grid(trainer.generator_ema, out_dir / "samples", nimg)
    return evaluate_and_log(trainer, logger, metrics) if due.metrics else None


def save_checkpoint(checkpoint: TrainingCheckpoint, window: LossWindow, step: int) -> None:
    """Save checkpoint ``ckpt-<step>``, the window of statistics with it, and say so on
    one line (the chief)."""
    window.store()
    prefix = checkpoint.save(step)
    if prefix is not None:
        print(f"saved checkpoint {prefix}", flush=True)
