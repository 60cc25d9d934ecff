"""A training run: set up (networks, checkpoints, logs, data), resume, train, save.

``out_dir`` receives ``checkpoints/<run key>/`` (with ``run_config.json``; see
:mod:`sfkeras.saved.runs`), ``log/`` (dvclive and TensorBoard), ``samples/`` (G_ema
grids, enlarged for people), ``snapshots/`` (G_ema and its metrics at every metrics
point; :mod:`sfkeras.training.snapshots`), ``G_ema.keras`` and ``G_ema.metrics.json``
(the final network and its metrics, for ``sfkeras evaluate`` to reuse) and
``G_best.keras`` with ``G_best.metrics.json`` (the best snapshot). A run resumes from
the newest checkpoint of its configuration's run, with its logs, samples and snapshots
cut back to that checkpoint.
"""

from __future__ import annotations

import contextlib
import math
import pathlib
from collections.abc import Callable

import numpy as np
import tensorflow as tf

from sfkeras.config import Config
from sfkeras.data import class_distribution, load
from sfkeras.data.pipeline import corrupt_shard_error
from sfkeras.saved.runs import run_checkpoint_dir, run_key, trajectory_config
from sfkeras.training.checkpoint import TrainingCheckpoint
from sfkeras.training.distribute import is_chief, select_strategy
from sfkeras.training.evaluation import TrainingMetrics, evaluate_and_log, record_final_metrics
from sfkeras.training.init_from import initialise_from
from sfkeras.training.interrupts import stop_on_signals
from sfkeras.training.logging import LossWindow, TrainingLogger
from sfkeras.training.loop import training_loop
from sfkeras.training.run_lock import run_folder_lock
from sfkeras.training.samples import prune_samples
from sfkeras.training.snapshots import SnapshotStore, ranking_metric
from sfkeras.training.trainer import STEP_STATS, Trainer


def train(
    config: Config,
    *,
    dataset_path: str | pathlib.Path,
    out_dir: str | pathlib.Path,
    resume: bool = True,
    max_steps: int | None = None,
    inception_weights: str | pathlib.Path | None = None,
) -> Trainer:
    """Train on the prepared data set at ``dataset_path``, writing to ``out_dir``.

    Args:
        config: the whole configuration.
        dataset_path: ``data/prepared/<data.name>``.
        out_dir: run folder (see the module docstring).
        resume: continue from the newest checkpoint of this configuration's run (a
            changed configuration starts a new run); ``False`` refuses when that run
            has checkpoints.
        max_steps: stop after this many steps of this call (``None``: at ``train.kimg``).
        inception_weights: FID Inception weights of the ``train.metrics_kimg``
            evaluations (``None``: ``evaluate.inception_weights``).

    Returns:
        The trainer, holding the trained networks.

    Raises:
        RunFolderInUseError: another process trains into ``out_dir`` (it is locked
            while training, by the chief; see :mod:`~sfkeras.training.run_lock`).
        TrainingInterrupted: SIGINT or SIGTERM arrived; a checkpoint of the last
            finished step was saved (:mod:`~sfkeras.training.interrupts`).
        DataError: a shard of the data set is corrupt (named in the message).
        ConfigError: ``generator.c_dim`` is not the data set's number of classes.
    """
    train_config = config.train
    label_distribution = class_distribution(dataset_path, config.generator.c_dim)

    def dataset_fn(context: tf.distribute.InputContext) -> tf.data.Dataset:
        return load(dataset_path, "train", batch_size=train_config.batch_size,
                    shuffle=True, mirror=train_config.mirror, repeat=True,
                    seed=train_config.seed, with_labels=label_distribution is not None,
                    input_context=context)

    lock = run_folder_lock(out_dir) if is_chief() else contextlib.nullcontext()
    with lock, stop_on_signals():
        try:
            return run_training(config, dataset_fn, out_dir, resume=resume,
                                max_steps=max_steps, metrics_dataset_path=dataset_path,
                                inception_weights=inception_weights,
                                label_distribution=label_distribution)
        except tf.errors.DataLossError as error:
            raise corrupt_shard_error(dataset_path, "train", error) from error


def run_training(
    config: Config,
    dataset_fn: Callable[[tf.distribute.InputContext], tf.data.Dataset],
    out_dir: str | pathlib.Path,
    *,
    resume: bool = True,
    max_steps: int | None = None,
    strategy: tf.distribute.Strategy | None = None,
    noise_mode: str = "random",
    metrics_dataset_path: str | pathlib.Path | None = None,
    inception_weights: str | pathlib.Path | None = None,
    label_distribution: np.ndarray | None = None,
) -> Trainer:
    """:func:`train` on any stream of real images.

    Args:
        dataset_fn: input context -> repeated dataset of per-replica batches of real
            images ``[B, H, W, C]`` in [-1, 1] (conditional runs: ``(images, labels)``,
            ``int64 [B]`` labels). On resume at step ``s`` its first ``s`` batches are
            skipped, so the resumed run sees the same data as an uninterrupted one.
        strategy: overrides ``train.strategy`` (tests pass logical devices).
        noise_mode: synthesis noise while training.
        metrics_dataset_path: real data for ``train.metrics_kimg`` evaluations.
        inception_weights: their FID Inception weights (``None``:
            ``evaluate.inception_weights``).
        label_distribution: a conditional run's training-set label distribution (see
            :class:`~sfkeras.training.trainer.Trainer`).
    """
    out_dir = pathlib.Path(out_dir)
    strategy = strategy or select_strategy(config.train.strategy, config.train.cpu_replicas)
    trainer = Trainer(config, strategy, noise_mode=noise_mode,
                      label_distribution=label_distribution)
    window = LossWindow(STEP_STATS)
    checkpoint, resumed = _restore(trainer, window, out_dir, resume)
    start_step = int(trainer.step.numpy())
    batches = iter(strategy.distribute_datasets_from_function(
        lambda context: dataset_fn(context).skip(start_step * _replicas_per_pipeline(context))))
    snapshots = SnapshotStore(out_dir, keep=config.train.keep_snapshots,
                              ranking=ranking_metric(config.evaluate.metrics))
    metrics = None if metrics_dataset_path is None else TrainingMetrics(
        pathlib.Path(metrics_dataset_path), inception_weights, snapshots)
    logger = _open_history(trainer, out_dir, resumed, snapshots) if is_chief() else None
    final_metrics = None
    try:
        if logger is not None and resumed is None:
            evaluate_and_log(trainer, logger, metrics)  # of the initial G_ema
        final_metrics = training_loop(trainer, batches, checkpoint, window, logger, out_dir,
                                      max_steps, metrics)
    finally:
        if logger is not None:
            logger.close()
    if is_chief():
        network = out_dir / "G_ema.keras"
        trainer.generator_ema.save(network)
        record_final_metrics(trainer, network, metrics, final_metrics)
        best = snapshots.update_best(fallback=network)
        print(f"best network: {snapshots.best_path} = {best.name}" if best != network else
              f"{snapshots.best_path}: no snapshot ranks by a FID or KID metric, so it is "
              "the final network", flush=True)
    return trainer


def _restore(trainer: Trainer, window: LossWindow, out_dir: pathlib.Path,
             resume: bool) -> tuple[TrainingCheckpoint, str | None]:
    """The run's checkpoint, restored from its newest one (else initialised from
    ``train.init_from``) with the window of statistics since its last log row; returns
    it and the restored prefix (``None``: a new run)."""
    config, chief = trainer.config, is_chief()
    directory = run_checkpoint_dir(out_dir, config)
    checkpoint = TrainingCheckpoint(directory, trainer.checkpoint_groups(),
                                    trajectory_config(config),
                                    keep=config.train.keep_checkpoints, is_chief=chief,
                                    optional_groups={"log_window": window.variables})
    if not resume and checkpoint.latest is not None:
        raise FileExistsError(f"{directory} holds checkpoints of an earlier run of this "
                              "configuration and resume is off: resume, or use an empty "
                              "output folder")
    resumed = checkpoint.restore_latest()
    window.load(int(trainer.cur_nimg.numpy()))
    if chief:
        print(f"resuming from {resumed} at kimg {int(trainer.cur_nimg.numpy()) / 1000:g}"
              if resumed else f"starting a new run in {directory}", flush=True)
    if resumed is None and config.train.init_from is not None:
        copied = initialise_from(trainer, config.train.init_from)
        if chief:
            print(f"initialised {', '.join(copied)} from {config.train.init_from}", flush=True)
    return checkpoint, resumed


def _open_history(trainer: Trainer, out_dir: pathlib.Path, resumed: str | None,
                  snapshots: SnapshotStore) -> TrainingLogger:
    """The chief's logger; the logs, samples and snapshots continue the run's history up
    to the restored checkpoint, and whatever an interrupted call wrote after it is
    dropped."""
    start_kimg = int(trainer.cur_nimg.numpy()) / 1000
    # Training stops at the first step that reaches train.kimg: the bar's end.
    steps = math.ceil(trainer.config.train.kimg * 1000 / trainer.global_batch)
    logger = TrainingLogger(out_dir / "log", total_kimg=steps * trainer.global_batch / 1000,
                            run=run_key(trainer.config),
                            resume_kimg=start_kimg if resumed else None)
    kept_until = int(trainer.cur_nimg.numpy()) if logger.continued else None
    prune_samples(out_dir / "samples", after_nimg=kept_until)
    snapshots.prune_after(kept_until)
    return logger


def _replicas_per_pipeline(context: tf.distribute.InputContext) -> int:
    """Batches an input pipeline yields per step (one per replica it feeds)."""
    return context.num_replicas_in_sync // context.num_input_pipelines
