"""The StyleGAN2-ADA training loop for Styleformer under ``tf.distribute``.

One minibatch ("step") runs the original's phases in order, each with its own
latents and the same real images, each followed by its own Adam step:

    ``Gmain`` (every step), ``Greg`` (path length; every ``g_reg_interval`` steps,
    only when ``pl_weight > 0``), ``Dmain`` (every step), ``Dreg`` (R1; every
    ``d_reg_interval`` steps, loss scaled by the interval).

then the generator EMA, ``cur_nimg += batch``, and (every ``augment.interval``
steps) the ADA update of p from the signs of D's real logits of Dmain and Dreg,
summed over replicas. Which phases run is a function of the step index
(:func:`phases_at`). The randomness of a step (latents, style-mixing cutoff,
synthesis noise, augmentations, path-length noise) is drawn statelessly from
``(train.seed, step, phase)`` and, except the latents, the replica; latents are drawn
for the global batch and each replica takes its share, so without per-replica
randomness (no augmentation, no mixing; constant synthesis noise) a step computes
the same update on any number of replicas. Each replica's loss is
``sum(per-sample loss) / global_batch`` and the optimisers sum gradients over
replicas, so the update is that of the global-batch mean.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import pathlib
import time
from collections.abc import Callable

import keras
import numpy as np
import tensorflow as tf

from sfkeras.config import AugmentConfig, Config, TrainConfig
from sfkeras.errors import SfkerasError
from sfkeras.images import enlarge, image_grid, save_png, to_uint8, z_from_seeds
from sfkeras.training.ada import AdaController
from sfkeras.training.augment import build_augment_pipe
from sfkeras.training.checkpoint import (
    TrainingCheckpoint,
    run_checkpoint_dir,
    run_key,
    trajectory_config,
)
from sfkeras.training.distribute import is_chief, per_replica_batch, select_strategy
from sfkeras.training.ema import ema_beta, update_ema
from sfkeras.training.guards import DivergenceGuard
from sfkeras.training.init_from import initialise_from
from sfkeras.training.interrupts import (
    raise_if_stop_requested,
    stop_on_signals,
    stop_requested,
)
from sfkeras.training.logging import TrainingLogger
from sfkeras.training.loss import LossSettings, StyleGAN2Loss
from sfkeras.training.optim import build_lazy_adam
from sfkeras.training.run_lock import run_folder_lock

#: The training phases, in the order a step runs them.
PHASES = ("Gmain", "Greg", "Dmain", "Dreg")

#: Seeds of the latents of the sample grids (``np.random.RandomState(seed).randn``).
SAMPLE_SEEDS = tuple(range(64))
SAMPLE_GRID_COLUMNS = 8


class NonFiniteLossError(SfkerasError, FloatingPointError):
    """A training loss became NaN or infinite; the last checkpoint is kept as it was."""

    exit_code = 5
    kind = "training diverged"


@dataclasses.dataclass(frozen=True)
class StepPhases:
    """Which optional phases a step runs (``Gmain`` and ``Dmain`` always run).

    Attributes:
        generator_reg: ``Greg`` (path-length regularisation).
        discriminator_reg: ``Dreg`` (R1 regularisation).
        ada_update: adjust the augmentation probability after the step.
    """

    generator_reg: bool
    discriminator_reg: bool
    ada_update: bool = False


def phases_at(step: int, train: TrainConfig, augment: AugmentConfig | None = None) -> StepPhases:
    """The phases of step ``step`` (0-based) under the ``train`` and ``augment`` recipe.

    ADA adjusts p when the number of steps done, ``step + 1``, is a multiple of
    ``augment.interval`` (the original's ``batch_idx % ada_interval == 0``).
    """
    return StepPhases(
        generator_reg=train.pl_weight > 0 and step % train.g_reg_interval == 0,
        discriminator_reg=train.r1_gamma > 0 and step % train.d_reg_interval == 0,
        ada_update=augment is not None and augment.mode == "ada"
        and (step + 1) % augment.interval == 0,
    )


class Trainer:
    """Networks, optimisers and the compiled training step of one run.

    Args:
        config: the whole configuration (``generator``, ``discriminator``,
            ``augment`` and ``train`` sections are used).
        strategy: distribution strategy; every variable is created in its scope.
        noise_mode: synthesis noise while training (``random``; tests use ``const``).

    Attributes:
        generator, generator_ema, discriminator: the networks.
        augment, ada: the augmentation pipe and its controller (``None`` for noaug).
        global_batch, replica_batch: images per step in all, and per replica.
        step: steps done (int64 variable); cur_nimg: real images shown so far.
    """

    def __init__(self, config: Config, strategy: tf.distribute.Strategy, *,
                 noise_mode: str = "random"):
        from sfkeras.models.discriminator import Discriminator
        from sfkeras.models.generator import Generator, global_dtype_policy

        self.config = config
        self.strategy = strategy
        train = config.train
        self.global_batch = train.batch_size
        self.replica_batch = per_replica_batch(strategy, train.batch_size)  # checks the split
        if train.xla and strategy.num_replicas_in_sync > 1:
            raise ValueError(
                "train.xla compiles the whole training step, which XLA allows on one device "
                f"only, but the strategy has {strategy.num_replicas_in_sync} replicas: set "
                "train.xla to false, or train on one device (train.strategy: default)")
        # Weight initialisation draws from Keras' global seed (as the original seeds
        # torch): the same train.seed gives the same initial networks.
        keras.utils.set_random_seed(train.seed)
        with strategy.scope():
            # Mixed precision computes the generators in float16; D (and the
            # augmentation) stays in float32, as Styleformer's D always does.
            with global_dtype_policy("mixed_float16" if train.mixed_precision else None):
                self.generator = Generator(config.generator, seed=train.seed, name="G")
                self.generator_ema = Generator(config.generator, seed=train.seed, name="G_ema")
            self.discriminator = Discriminator(
                config.generator.resolution, config.discriminator,
                img_channels=config.generator.img_channels, name="D")
            self.discriminator.build((None, config.generator.resolution,
                                      config.generator.resolution,
                                      config.generator.img_channels))
            self.generator_ema.set_weights(self.generator.get_weights())
            image_shape = (config.generator.resolution, config.generator.resolution,
                           config.generator.img_channels)
            self.augment = build_augment_pipe(config.augment, image_shape, seed=train.seed,
                                              branch_free=train.xla)
            self.ada = None if self.augment is None else AdaController(
                config.augment, self.global_batch, self.augment.p)
            self.g_optimizer = self._optimizer(train.g_lr, train.g_reg_interval, "G_adam",
                                               self.generator, train.mixed_precision)
            self.d_optimizer = self._optimizer(train.d_lr, train.d_reg_interval, "D_adam",
                                               self.discriminator, False)
            self.loss = StyleGAN2Loss(
                self.generator, self.discriminator,
                LossSettings(r1_gamma=train.r1_gamma,
                             style_mixing_prob=train.style_mixing_prob,
                             pl_weight=train.pl_weight,
                             pl_batch_shrink=train.pl_batch_shrink,
                             pl_decay=train.pl_decay),
                augment=self.augment, noise_mode=noise_mode)
            self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
            self.cur_nimg = tf.Variable(0, dtype=tf.int64, trainable=False, name="cur_nimg")
        self._compiled_steps: dict[tuple[bool, bool], Callable] = {}
        self._update_ada = tf.function(self.ada.update) if self.ada is not None else None

    def _optimizer(self, learning_rate, reg_interval, name, network, loss_scaled: bool):
        train = self.config.train
        optimizer = build_lazy_adam(learning_rate, train.betas, train.epsilon, reg_interval,
                                    name=name)
        if loss_scaled:
            optimizer = keras.optimizers.LossScaleOptimizer(optimizer, name=f"{name}_scaled")
        optimizer.build(network.trainable_variables)
        return optimizer

    def checkpoint_groups(self) -> dict[str, list]:
        """Every variable of the run, by group, for :class:`TrainingCheckpoint`."""
        state = [self.step, self.cur_nimg, self.loss.pl_mean]
        if self.augment is not None:
            state += [self.augment.p, self.ada.sign_sum, self.ada.count]
        return {
            "generator": self.generator.variables,
            "generator_ema": self.generator_ema.variables,
            "discriminator": self.discriminator.variables,
            "generator_optimizer": self.g_optimizer.variables,
            "discriminator_optimizer": self.d_optimizer.variables,
            "state": state,
        }

    def run_step(self, reals, recorded: dict[str, tf.Tensor] | None = None) -> dict[str, float]:
        """One training step on a distributed batch of real images.

        Args:
            reals: the step's real images (a distributed batch).
            recorded: random inputs recorded elsewhere, replacing the step's own draws
                (one replica only; :mod:`sfkeras.training.replay` replays the original's
                runs with them): ``z/Gmain``, ``z/Greg``, ``z/Dmain``, the global latents
                ``[batch, z_dim]`` of each phase, and ``pl_noise``, Greg's standard
                normal image directions ``[batch // pl_batch_shrink, H, W, C]``.

        Returns:
            The step's global-batch means: ``loss/G``, ``loss/D`` and, when their
            phases ran, ``loss/r1_penalty``, ``loss/pl_penalty``; ``augment/p``.
        """
        phases = phases_at(int(self.step.numpy()), self.config.train, self.config.augment)
        # One compiled step per combination of optional phases; the ADA update is a
        # separate small function, so that it does not double the number of traces.
        if recorded is not None and self.strategy.num_replicas_in_sync != 1:
            raise ValueError("recorded inputs replace the draws of one replica, but the "
                             f"strategy has {self.strategy.num_replicas_in_sync}")
        key = (phases.generator_reg, phases.discriminator_reg, recorded is not None)
        if key not in self._compiled_steps:
            self._compiled_steps[key] = tf.function(
                lambda batch, inputs: self._distributed_step(batch, phases, inputs),
                autograph=False, jit_compile=self.config.train.xla or None)
        stats = {name: float(value)
                 for name, value in self._compiled_steps[key](reals, recorded).items()}
        if phases.ada_update:
            self._update_ada()
        if self.augment is not None:
            stats["augment/p"] = float(self.augment.p.numpy())
        return stats

    # -- the compiled step ----------------------------------------------------------

    def _distributed_step(self, reals, phases: StepPhases,
                          recorded: dict[str, tf.Tensor] | None) -> dict[str, tf.Tensor]:
        train = self.config.train
        sums = self.strategy.run(self._replica_step, args=(reals, phases, recorded))
        sums = {name: self.strategy.reduce(tf.distribute.ReduceOp.SUM, value, axis=None)
                for name, value in sums.items()}
        update_ema(self.generator_ema, self.generator,
                   ema_beta(self.global_batch, self.cur_nimg, train.ema_kimg, train.ema_rampup))
        self.cur_nimg.assign_add(self.global_batch)
        self.step.assign_add(1)
        stats = {"loss/G": sums["loss/G"] / self.global_batch,
                 "loss/D": sums["loss/D"] / self.global_batch}
        if phases.discriminator_reg:
            stats["loss/r1_penalty"] = sums["loss/r1_penalty"] / self.global_batch
        if phases.generator_reg:
            stats["loss/pl_penalty"] = sums["loss/pl_penalty"] / (
                self.global_batch // train.pl_batch_shrink)
        return stats

    def _replica_step(self, reals, phases: StepPhases,
                      recorded: dict[str, tf.Tensor] | None) -> dict[str, tf.Tensor]:
        """All phases of one step on this replica's share of the batch."""
        step_seed = tf.random.experimental.stateless_fold_in(
            tf.constant([self.config.train.seed, 0], tf.int64), self.step)
        seeds = tf.random.experimental.stateless_split(step_seed, 4)
        replica = tf.distribute.get_replica_context().replica_id_in_sync_group
        active = ["Gmain"] + ["Greg"] * phases.generator_reg + ["Dmain"] \
            + ["Dreg"] * phases.discriminator_reg
        sums = {}
        for phase in active:
            index = PHASES.index(phase)
            # Latents are sliced from the global batch; the other draws (mixing,
            # augmentation, path-length noise) are per replica.
            seed = tf.random.experimental.stateless_fold_in(seeds[index], replica)
            if recorded is None:
                z, pl_noise = self._latents(seeds[index], replica), None
            else:
                z, pl_noise = recorded.get(f"z/{phase}"), recorded["pl_noise"]
            stats, grads = self.phase_gradients(phase, z, reals, seed, pl_noise=pl_noise)
            if self.ada is not None and "real_logits" in stats:
                self.ada.accumulate(stats["real_logits"])
            optimizer, network = (self.g_optimizer, self.generator) if phase.startswith("G") \
                else (self.d_optimizer, self.discriminator)
            optimizer.apply(grads, network.trainable_variables)
            stats.pop("real_logits", None)
            sums.update(stats)
        return sums

    def phase_gradients(
        self, phase: str, z: tf.Tensor | None, reals: tf.Tensor, seed: tf.Tensor,
        pl_noise: tf.Tensor | None = None,
    ) -> tuple[dict[str, tf.Tensor], list[tf.Tensor]]:
        """Loss statistics and weight gradients of one phase on one replica.

        The objective is the phase's per-sample loss summed over this replica's
        samples, divided by the global batch (``batch // pl_batch_shrink`` for
        ``Greg``) and multiplied by the phase's lazy-regularisation interval
        (``Greg``, ``Dreg``): summed over replicas, the original's mean times gain.
        Non-finite gradient entries are replaced as the original does (NaN -> 0,
        +-inf -> +-1e5); with mixed precision the loss-scale optimiser handles them.

        Args:
            phase: ``Gmain``, ``Greg``, ``Dmain`` or ``Dreg``.
            z: this replica's latents ``[replica_batch, z_dim]`` (unused by ``Dreg``).
            reals: this replica's real images ``[replica_batch, H, W, C]``.
            seed: int ``[2]`` seed of the phase's other randomness (style mixing,
                augmentation, path-length noise).
            pl_noise: Greg's image directions (``None``: drawn from ``seed``; see
                :meth:`StyleGAN2Loss.generator_path_length`).

        Returns:
            ``stats``: sums over this replica's samples (``loss/G``, ``loss/D``,
            ``loss/pl_penalty``, ``loss/r1_penalty``) and ``real_logits`` (Dmain,
            Dreg); ``grads``: one per trainable weight of the phase's network.
        """
        train = self.config.train
        network = self.generator if phase.startswith("G") else self.discriminator
        optimizer = self.g_optimizer if phase.startswith("G") else self.d_optimizer
        # Record only what depends on the phase's own network (Dmain's generator
        # forward pass is then not kept for backpropagation).
        with tf.GradientTape(watch_accessed_variables=False) as tape:
            tape.watch([variable.value for variable in network.trainable_variables])
            if phase == "Gmain":
                loss, _ = self.loss.generator_main(z, seed)
                stats = {"loss/G": tf.reduce_sum(loss)}
                objective = tf.reduce_sum(loss) / self.global_batch
            elif phase == "Greg":
                loss = self.loss.generator_path_length(z, seed, pl_noise)
                stats = {"loss/pl_penalty": tf.reduce_sum(loss) / train.pl_weight}
                objective = tf.reduce_sum(loss) * train.g_reg_interval / (
                    self.global_batch // train.pl_batch_shrink)
            elif phase == "Dmain":
                loss, real_logits = self.loss.discriminator_main(z, reals, seed)
                stats = {"loss/D": tf.reduce_sum(loss), "real_logits": real_logits}
                objective = tf.reduce_sum(loss) / self.global_batch
            elif phase == "Dreg":
                loss, penalty, real_logits = self.loss.discriminator_r1(reals, seed)
                stats = {"loss/r1_penalty": tf.reduce_sum(penalty), "real_logits": real_logits}
                objective = tf.reduce_sum(loss) * train.d_reg_interval / self.global_batch
            else:
                raise ValueError(f"unknown phase {phase!r}; choose one of {PHASES}")
            if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
                objective = optimizer.scale_loss(objective)
        # Weights that do not reach the objective (D's output bias in R1) get zero
        # gradients, as in the original, so that Adam still steps their moments.
        variables = network.trainable_variables
        grads = tape.gradient(objective, variables)
        grads = [tf.zeros(v.shape, v.dtype) if g is None else g
                 for v, g in zip(variables, grads, strict=True)]
        if not isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
            grads = [_nan_to_num(g) for g in grads]
        return stats, grads

    def _latents(self, seed, replica) -> tf.Tensor:
        """This replica's share of the step's global latents ``[replica_batch, z_dim]``.

        Replica ``r`` of ``R`` takes samples ``r, r + R, ...``: StyleGAN2 forms
        minibatch-stddev groups with stride ``batch / group``, so the groups on the
        replicas are exactly those of a single-device run.
        """
        z = tf.random.stateless_normal([self.global_batch, self.config.generator.z_dim], seed)
        return z[replica::self.strategy.num_replicas_in_sync]


def _nan_to_num(gradient: tf.Tensor) -> tf.Tensor:
    """``torch.nan_to_num(g, nan=0, posinf=1e5, neginf=-1e5)``."""
    gradient = tf.where(tf.math.is_nan(gradient), tf.zeros_like(gradient), gradient)
    return tf.where(tf.math.is_inf(gradient), tf.sign(gradient) * 1e5, gradient)


#: Training phase of each logged loss (named in non-finite-loss errors).
_PHASE_OF_STAT = {"loss/G": "Gmain", "loss/pl_penalty": "Greg", "loss/D": "Dmain",
                  "loss/r1_penalty": "Dreg"}


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

    ``out_dir`` receives ``checkpoints/<run key>/`` (with ``run_config.json``; see
    :func:`~sfkeras.training.checkpoint.run_checkpoint_dir`), ``log/`` (dvclive and
    TensorBoard), ``samples/`` (G_ema grids, enlarged for people), ``G_ema.keras`` and
    ``G_ema.metrics.json`` (its final metrics, for ``sfkeras evaluate`` to reuse).

    Args:
        config: the whole configuration.
        dataset_path: ``data/prepared/<data.name>``.
        out_dir: run folder.
        resume: continue from the newest checkpoint of this configuration's run
            (``out_dir/checkpoints/<run key>``; a changed configuration starts a new
            run); ``False`` refuses when that run has checkpoints.
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
    """
    from sfkeras.data import load
    from sfkeras.data.pipeline import corrupt_shard_error

    train_config = config.train

    def dataset_fn(context: tf.distribute.InputContext) -> tf.data.Dataset:
        return load(dataset_path, "train",
                    batch_size=train_config.batch_size,
                    shuffle=True, mirror=train_config.mirror, repeat=True,
                    seed=train_config.seed, input_context=context)

    lock = run_folder_lock(out_dir) if is_chief() else contextlib.nullcontext()
    with lock, stop_on_signals():
        try:
            return run_training(config, dataset_fn, out_dir, resume=resume,
                                max_steps=max_steps, metrics_dataset_path=dataset_path,
                                inception_weights=inception_weights)
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
) -> Trainer:
    """:func:`train` on any stream of real images.

    Args:
        dataset_fn: input context -> repeated dataset of per-replica batches of real
            images ``[B, H, W, C]`` in [-1, 1]. On resume at step ``s`` its first
            ``s`` batches are skipped, so the resumed run sees the same data as an
            uninterrupted one.
        strategy: overrides ``train.strategy`` (tests pass logical devices).
        noise_mode: synthesis noise while training.
        metrics_dataset_path: real data for ``train.metrics_kimg`` evaluations.
        inception_weights: their FID Inception weights (``None``:
            ``evaluate.inception_weights``).
    """
    train_config = config.train
    out_dir = pathlib.Path(out_dir)
    strategy = strategy or select_strategy(train_config.strategy, train_config.cpu_replicas)
    trainer = Trainer(config, strategy, noise_mode=noise_mode)
    chief = is_chief()
    checkpoint_dir = run_checkpoint_dir(out_dir, config)
    checkpoint = TrainingCheckpoint(checkpoint_dir, trainer.checkpoint_groups(),
                                    trajectory_config(config),
                                    keep=train_config.keep_checkpoints, is_chief=chief)
    if not resume and checkpoint.latest is not None:
        raise FileExistsError(f"{checkpoint_dir} holds checkpoints of an earlier run of this "
                              "configuration and resume is off: resume, or use an empty "
                              "output folder")
    resumed = checkpoint.restore_latest()
    start_step = int(trainer.step.numpy())
    if chief:
        print(f"resuming from {resumed} at kimg {int(trainer.cur_nimg.numpy()) / 1000:g}"
              if resumed else f"starting a new run in {checkpoint_dir}", flush=True)
    if resumed is None and train_config.init_from is not None:
        copied = initialise_from(trainer, train_config.init_from)
        if chief:
            print(f"initialised {', '.join(copied)} from {train_config.init_from}", flush=True)
    batches = iter(strategy.distribute_datasets_from_function(
        lambda context: dataset_fn(context).skip(start_step * _replicas_per_pipeline(context))))
    metrics = None if metrics_dataset_path is None else TrainingMetrics(
        pathlib.Path(metrics_dataset_path), inception_weights)
    start_kimg = int(trainer.cur_nimg.numpy()) / 1000
    logger = None
    if chief:
        # The logs and samples continue the run's history up to the restored
        # checkpoint; whatever an interrupted call wrote after it is dropped.
        logger = TrainingLogger(out_dir / "log", total_kimg=train_config.kimg,
                                run=run_key(config),
                                resume_kimg=start_kimg if resumed else None)
        _prune_samples(out_dir / "samples",
                       after_nimg=int(trainer.cur_nimg.numpy()) if logger.continued else None)
    final_metrics = None
    try:
        if logger is not None and resumed is None:
            _log_metrics(trainer, logger, metrics)  # of the initial G_ema
        final_metrics = _training_loop(trainer, batches, checkpoint, logger, out_dir,
                                       max_steps, metrics)
    finally:
        if logger is not None:
            logger.close()
    if chief:
        network = out_dir / "G_ema.keras"
        trainer.generator_ema.save(network)
        _record_final_metrics(trainer, network, metrics, final_metrics)
    return trainer


@dataclasses.dataclass(frozen=True)
class TrainingMetrics:
    """What the ``train.metrics_kimg`` evaluations compare G_ema with.

    Attributes:
        dataset_path: the prepared data set of the real images.
        inception_weights: FID Inception weights (``None``: ``evaluate.inception_weights``).
    """

    dataset_path: pathlib.Path
    inception_weights: str | pathlib.Path | None = None


def _training_loop(trainer: Trainer, batches, checkpoint: TrainingCheckpoint,
                   logger: TrainingLogger | None, out_dir: pathlib.Path,
                   max_steps: int | None,
                   metrics: TrainingMetrics | None) -> dict[str, float] | None:
    """Train until ``train.kimg`` (or ``max_steps``); returns the metrics of the final
    G_ema when this call evaluated them at ``train.kimg``.

    At a kimg where several things are due, the checkpoint is written last: a run
    killed before it resumes from the previous checkpoint and logs, snapshots and
    evaluates that kimg again, so the history has no gap.
    """
    train_config = trainer.config.train
    total_nimg = train_config.kimg * 1000
    nimg = int(trainer.cur_nimg.numpy())
    window: dict[str, list[float]] = {}
    tick_time, tick_nimg = time.perf_counter(), nimg
    steps = 0
    saved_at = nimg if checkpoint.latest else -1
    results = None
    guard = DivergenceGuard(train_config.divergence_loss, train_config.divergence_steps)
    checkpoint_due = False
    while nimg < total_nimg and (max_steps is None or steps < max_steps) \
            and not stop_requested():
        step = int(trainer.step.numpy())
        stats = trainer.run_step(next(batches))
        _check_finite(stats, step, checkpoint.latest)
        guard.check(stats, step, checkpoint.latest)
        steps += 1
        previous, nimg = nimg, int(trainer.cur_nimg.numpy())
        for name, value in stats.items():
            window.setdefault(name, []).append(value)
        if logger is not None:
            means = {name: float(np.mean(values)) for name, values in window.items()}
            logger.update_progress(nimg / 1000, means)
            if _crossed(previous, nimg, train_config.log_kimg) or nimg >= total_nimg:
                now = time.perf_counter()
                means["timing/sec_per_kimg"] = (now - tick_time) / max(nimg - tick_nimg, 1) * 1000
                logger.log(nimg / 1000, means)
                window, tick_time, tick_nimg = {}, now, nimg
            if _crossed(previous, nimg, train_config.snapshot_kimg) or nimg >= total_nimg:
                grid = image_grid(sample_images(trainer.generator_ema), SAMPLE_GRID_COLUMNS)
                save_png(enlarge(grid), out_dir / "samples" / f"fakes{nimg:010d}.png")
            if train_config.metrics_kimg > 0 and (
                    _crossed(previous, nimg, train_config.metrics_kimg) or nimg >= total_nimg):
                results = _log_metrics(trainer, logger, metrics)
        checkpoint_due |= _crossed(previous, nimg, train_config.checkpoint_kimg)
        if checkpoint_due and guard.healthy:  # no checkpoint of a diverging state
            _save_checkpoint(checkpoint, step + 1)
            saved_at, checkpoint_due = nimg, False
    if saved_at != nimg and guard.healthy:
        _save_checkpoint(checkpoint, int(trainer.step.numpy()))
    raise_if_stop_requested(int(trainer.step.numpy()), checkpoint.latest)
    return results if nimg >= total_nimg else None


def _save_checkpoint(checkpoint: TrainingCheckpoint, step: int) -> None:
    """Save checkpoint ``ckpt-<step>`` and say so on one line (the chief)."""
    prefix = checkpoint.save(step)
    if prefix is not None:
        print(f"saved checkpoint {prefix}", flush=True)


def sample_images(generator, seeds=SAMPLE_SEEDS, batch_size: int = 16) -> np.ndarray:
    """uint8 images ``[len(seeds), H, W, C]`` of ``generator`` with constant noise.

    The latent of seed ``s`` is the original's ``np.random.RandomState(s).randn(z_dim)``.
    """
    z = z_from_seeds(seeds, generator.z_dim)
    return np.concatenate([
        to_uint8(keras.ops.convert_to_numpy(generator(z[i:i + batch_size], noise_mode="const")))
        for i in range(0, len(z), batch_size)])


def _replicas_per_pipeline(context: tf.distribute.InputContext) -> int:
    """Batches an input pipeline yields per step (one per replica it feeds)."""
    return context.num_replicas_in_sync // context.num_input_pipelines


def _log_metrics(trainer: Trainer, logger: TrainingLogger,
                 metrics: TrainingMetrics | None) -> dict[str, float] | None:
    """Evaluate G_ema and log at the current kimg, when ``train.metrics_kimg > 0``.

    The loop calls it at the start of a fresh run (kimg 0, as the original's tick 0),
    every ``metrics_kimg`` and at the end. Returns the results (``None``: not evaluated).
    """
    if trainer.config.train.metrics_kimg <= 0 or metrics is None:
        return None
    kimg = int(trainer.cur_nimg.numpy()) / 1000
    with logger.status(f"evaluating {', '.join(trainer.config.evaluate.metrics)} "
                       f"at {kimg:g} kimg"):
        results = _evaluate(trainer, metrics)
    logger.log(kimg, {f"metrics/{name}": value for name, value in results.items()})
    return results


def _evaluate(trainer: Trainer, metrics: TrainingMetrics) -> dict[str, float]:
    """``evaluate.metrics`` of G_ema against the real images of ``metrics``."""
    from sfkeras.metrics.evaluate import evaluate_generator

    generator = trainer.generator_ema

    def generate(z):  # random noise and no truncation, as the original's metrics
        return keras.ops.convert_to_numpy(generator(z))

    evaluate = trainer.config.evaluate
    # With the CPU split (train.cpu_replicas), each op runs on one replica's share of
    # the cores: as many concurrent Inception passes keep all of them busy.
    results = evaluate_generator(generate, metrics.dataset_path, evaluate.metrics,
                                 z_dim=generator.z_dim, num_images=evaluate.num_images,
                                 batch_size=evaluate.batch_size, seed=evaluate.seed,
                                 split=evaluate.split,
                                 inception_weights=metrics.inception_weights
                                 or evaluate.inception_weights,
                                 inception_threads=trainer.config.train.cpu_replicas)
    return {name: float(value) for name, value in results.items()}


def _record_final_metrics(trainer: Trainer, network: pathlib.Path,
                          metrics: TrainingMetrics | None,
                          results: dict[str, float] | None) -> None:
    """Write the record that lets ``sfkeras evaluate`` reuse the metrics of ``network``
    (:mod:`sfkeras.metrics.reuse`); without final results, one that matches nothing."""
    from sfkeras.metrics.reuse import record_path, training_protocol, write_record

    protocol = None if results is None or metrics is None else training_protocol(
        trainer.config.evaluate, metrics.dataset_path)
    write_record(record_path(network), network, protocol, results)


def _prune_samples(folder: pathlib.Path, after_nimg: int | None) -> None:
    """Delete the sample grids ``fakes<nimg>.png`` of ``folder`` past ``after_nimg``
    (``None``: all of them, for a run whose history starts afresh)."""
    for grid in folder.glob("fakes*.png"):
        if after_nimg is None or int(grid.stem.removeprefix("fakes")) > after_nimg:
            grid.unlink()


def _check_finite(stats: dict[str, float], step: int, last_checkpoint: str | None) -> None:
    bad = {name: value for name, value in stats.items() if not math.isfinite(value)}
    if bad:
        details = ", ".join(f"{name} = {value} in phase {_PHASE_OF_STAT.get(name, '?')}"
                            for name, value in bad.items())
        kept = f"the last checkpoint {last_checkpoint} is intact" if last_checkpoint \
            else "no checkpoint was written yet"
        raise NonFiniteLossError(f"non-finite loss at step {step}: {details}. Training "
                                 f"stopped; {kept}. Lower the learning rates or raise "
                                 "r1_gamma, then resume.")


def _crossed(previous_nimg: int, nimg: int, every_kimg: float) -> bool:
    """Whether a multiple of ``every_kimg`` lies in ``(previous_nimg, nimg]``."""
    every = every_kimg * 1000
    return math.floor(nimg / every) > math.floor(previous_nimg / every)
