"""The networks, optimisers and compiled training step of one run, under ``tf.distribute``.

One minibatch ("step") runs the phases :func:`~sfkeras.training.loss.phases_at`
schedules, in order, each with its own latents and the same real images, each followed
by its own Adam step; then the generator EMA, ``cur_nimg += batch``, and (every
``augment.interval`` steps) the ADA update of p from the signs of D's real logits of
Dmain and Dreg, summed over replicas. The loss (:class:`~sfkeras.training.loss.
StyleGAN2Loss`) owns what each phase computes; the step here runs the tape, the
gradients and the optimiser the same way for every phase.

The randomness of a step (latents, style-mixing cutoff, synthesis noise,
augmentations, path-length noise) is drawn statelessly from ``(train.seed, step,
phase)`` and, except the latents, the replica; latents are drawn for the global batch
and each replica takes its share, so without per-replica randomness (no augmentation,
no mixing; constant synthesis noise) a step computes the same update on any number of
replicas. The optimisers sum the replicas' gradients, so the update is that of the
global-batch objective.

A conditional run (``generator.c_dim > 0``) reads ``(images, labels)`` batches and
gives the generated images labels drawn, like the latents, for the global batch of each
phase, from the training set's label distribution (the original's
``training_set.get_label(random index)``), on a stream of their own.

Freeze-D (``train.freeze_d``) marks the discriminator's first layers non-trainable
before the optimiser is built: no phase computes their gradients, so they keep the
weights they start with (``train.init_from``).
"""

from __future__ import annotations

from collections.abc import Callable

import keras
import numpy as np
import tensorflow as tf

from sfkeras.config import Config
from sfkeras.models.discriminator import Discriminator
from sfkeras.models.generator import Generator, global_dtype_policy
from sfkeras.training.ada import AdaController
from sfkeras.training.augment import build_augment_pipe
from sfkeras.training.distribute import per_replica_batch
from sfkeras.training.ema import ema_beta, update_ema
from sfkeras.training.loss import PHASES, LossSettings, Phase, StepPhases, StyleGAN2Loss, phases_at
from sfkeras.training.optim import build_lazy_adam

#: The statistics :meth:`Trainer.run_step` returns (those of the phases that ran).
STEP_STATS = (*(phase.stat for phase in PHASES), "augment/p")


class Trainer:
    """Networks, optimisers and the compiled training step of one run.

    Args:
        config: the whole configuration (``generator``, ``discriminator``,
            ``augment`` and ``train`` sections are used).
        strategy: distribution strategy; every variable is created in its scope.
        noise_mode: synthesis noise while training (``random``; tests use ``const``).
        label_distribution: ``float [c_dim]``, the training set's fraction of images
            per class, from which a conditional run draws the generated images' labels
            (:func:`sfkeras.data.class_distribution`); ``None`` when unconditional.

    Attributes:
        generator, generator_ema, discriminator: the networks.
        augment, ada: the augmentation pipe and its controller (``None`` for noaug).
        global_batch, replica_batch: images per step in all, and per replica.
        step: steps done (int64 variable); cur_nimg: real images shown so far.
        label_distribution: the one given (``None`` for an unconditional run).
    """

    def __init__(self, config: Config, strategy: tf.distribute.Strategy, *,
                 noise_mode: str = "random", label_distribution: np.ndarray | None = None):
        self.config = config
        self.strategy = strategy
        train = config.train
        self.c_dim = config.generator.c_dim
        if self.c_dim and (label_distribution is None or len(label_distribution) != self.c_dim):
            raise ValueError(f"a conditional run (generator.c_dim={self.c_dim}) needs the "
                             f"training set's label distribution over {self.c_dim} classes")
        self.label_distribution = label_distribution if self.c_dim else None
        self._label_logits = None if not self.c_dim else tf.math.log(
            tf.constant(label_distribution, tf.float32))[None]
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
            self._build_networks()
            self._build_training_state(noise_mode)
        self._compiled_steps: dict[tuple, Callable] = {}
        self._update_ada = tf.function(self.ada.update) if self.ada is not None else None

    def _build_networks(self) -> None:
        config, train = self.config, self.config.train
        # Mixed precision computes the generators in float16; D (and the augmentation)
        # stays in float32, as Styleformer's D always does.
        with global_dtype_policy("mixed_float16" if train.mixed_precision else None):
            self.generator = Generator(config.generator, seed=train.seed, name="G")
            self.generator_ema = Generator(config.generator, seed=train.seed, name="G_ema")
        resolution, channels = config.generator.resolution, config.generator.img_channels
        self.discriminator = Discriminator(resolution, config.discriminator,
                                           img_channels=channels, c_dim=self.c_dim, name="D")
        self.discriminator.build((None, resolution, resolution, channels))
        self.generator_ema.set_weights(self.generator.get_weights())
        self.discriminator.freeze_input_layers(train.freeze_d)

    def _build_training_state(self, noise_mode: str) -> None:
        config, train = self.config, self.config.train
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
        self.loss = StyleGAN2Loss(self.generator, self.discriminator,
                                  LossSettings.from_train(train), augment=self.augment,
                                  noise_mode=noise_mode)
        self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
        self.cur_nimg = tf.Variable(0, dtype=tf.int64, trainable=False, name="cur_nimg")
        # What each phase trains: the network of its Phase.network, and its optimiser.
        self._trained = {"G": (self.generator, self.g_optimizer),
                         "D": (self.discriminator, self.d_optimizer)}

    def _optimizer(self, learning_rate, reg_interval, name, network, loss_scaled: bool):
        train = self.config.train
        optimizer = build_lazy_adam(learning_rate, train.betas, train.epsilon, reg_interval,
                                    name=name)
        if loss_scaled:
            optimizer = keras.optimizers.LossScaleOptimizer(optimizer, name=f"{name}_scaled")
        optimizer.build(network.trainable_variables)
        return optimizer

    def checkpoint_groups(self) -> dict[str, list]:
        """Every variable of the run, by group, for
        :class:`~sfkeras.training.checkpoint.TrainingCheckpoint`."""
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
            reals: the step's real images (a distributed batch); for a conditional run
                ``(images, labels)`` with ``int64 [batch]`` labels.
            recorded: random inputs recorded elsewhere, replacing the step's own draws
                (one replica only; :mod:`sfkeras.training.replay` replays the original's
                runs with them): ``z/Gmain``, ``z/Greg``, ``z/Dmain``, the global latents
                ``[batch, z_dim]`` of each phase, and ``pl_noise``, Greg's standard
                normal image directions ``[batch // pl_batch_shrink, H, W, C]``.

        Returns:
            The step's global-batch means: ``loss/G``, ``loss/D`` and, when their
            phases ran, ``loss/r1_penalty``, ``loss/pl_penalty``; ``augment/p``.
        """
        schedule = phases_at(int(self.step.numpy()), self.config.train, self.config.augment)
        if recorded is not None and self.strategy.num_replicas_in_sync != 1:
            raise ValueError("recorded inputs replace the draws of one replica, but the "
                             f"strategy has {self.strategy.num_replicas_in_sync}")
        # One compiled step per combination of phases; the ADA update is a separate
        # small function, so that it does not double the number of traces.
        key = (schedule.key, recorded is not None)
        if key not in self._compiled_steps:
            self._compiled_steps[key] = tf.function(
                lambda batch, inputs: self._distributed_step(batch, schedule, inputs),
                autograph=False, jit_compile=self.config.train.xla or None)
        stats = {name: float(value)
                 for name, value in self._compiled_steps[key](reals, recorded).items()}
        if schedule.ada_update:
            self._update_ada()
        if self.augment is not None:
            stats["augment/p"] = float(self.augment.p.numpy())
        return stats

    def _distributed_step(self, reals, schedule: StepPhases,
                          recorded: dict[str, tf.Tensor] | None) -> dict[str, tf.Tensor]:
        train = self.config.train
        sums = self.strategy.run(self._replica_step, args=(reals, schedule, recorded))
        stats = {name: self.strategy.reduce(tf.distribute.ReduceOp.SUM, value, axis=None)
                 / self.loss.stat_batch[name] for name, value in sums.items()}
        update_ema(self.generator_ema, self.generator,
                   ema_beta(self.global_batch, self.cur_nimg, train.ema_kimg, train.ema_rampup))
        self.cur_nimg.assign_add(self.global_batch)
        self.step.assign_add(1)
        return stats

    def _replica_step(self, reals, schedule: StepPhases,
                      recorded: dict[str, tf.Tensor] | None) -> dict[str, tf.Tensor]:
        """All phases of one step on this replica's share of the batch."""
        seeds, label_seeds = self._phase_seeds(stream=0), self._phase_seeds(stream=1)
        replica = tf.distribute.get_replica_context().replica_id_in_sync_group
        real_c = None
        if self.c_dim:
            reals, labels = reals
            real_c = tf.one_hot(labels, self.c_dim)
        sums = {}
        for phase in schedule.phases:
            phase_seed = seeds[PHASES.index(phase)]
            if recorded is None:
                z, pl_noise = self._latents(phase_seed, replica), None
            else:
                z, pl_noise = recorded.get(f"z/{phase.name}"), recorded["pl_noise"]
            gen_c = self._labels(label_seeds[PHASES.index(phase)], replica) \
                if self.c_dim else None
            # Latents and labels are sliced from the global batch; the other draws
            # (mixing, augmentation, path-length noise) are per replica.
            seed = tf.random.experimental.stateless_fold_in(phase_seed, replica)
            stats, grads = self.phase_gradients(phase, z, reals, seed, pl_noise=pl_noise,
                                                gen_c=gen_c, real_c=real_c)
            real_logits = stats.pop("real_logits", None)
            if self.ada is not None and real_logits is not None:
                self.ada.accumulate(real_logits)
            network, optimizer = self._trained[phase.network]
            optimizer.apply(grads, network.trainable_variables)
            sums.update(stats)
        return sums

    def _phase_seeds(self, stream: int) -> tf.Tensor:
        """``[len(PHASES), 2]``: a seed per phase of this step on the random ``stream``
        (0: the latents and every other draw; 1: the generated images' labels)."""
        step_seed = tf.random.experimental.stateless_fold_in(
            tf.constant([self.config.train.seed, stream], tf.int64), self.step)
        return tf.random.experimental.stateless_split(step_seed, len(PHASES))

    def phase_gradients(
        self, phase: Phase | str, z: tf.Tensor | None, reals: tf.Tensor, seed: tf.Tensor,
        pl_noise: tf.Tensor | None = None, gen_c: tf.Tensor | None = None,
        real_c: tf.Tensor | None = None,
    ) -> tuple[dict[str, tf.Tensor], list[tf.Tensor]]:
        """Loss statistics and weight gradients of one phase on one replica.

        The objective is :meth:`StyleGAN2Loss.accumulate`'s. Non-finite gradient entries
        are replaced as the original does (NaN -> 0, +-inf -> +-1e5); with mixed
        precision the loss-scale optimiser handles them.

        Args:
            phase: a :class:`~sfkeras.training.loss.Phase` or its name.
            z, reals, seed, pl_noise, gen_c, real_c: see :meth:`StyleGAN2Loss.accumulate`.

        Returns:
            ``stats``: the phase's loss statistics summed over this replica's samples
            and, for ``Dmain`` and ``Dreg``, D's ``real_logits``; ``grads``: one per
            trainable weight of the phase's network.
        """
        phase = phase if isinstance(phase, Phase) else next(p for p in PHASES if p.name == phase)
        network, optimizer = self._trained[phase.network]
        scaled = isinstance(optimizer, keras.optimizers.LossScaleOptimizer)
        # Record only what depends on the phase's own network (Dmain's generator
        # forward pass is then not kept for backpropagation).
        with tf.GradientTape(watch_accessed_variables=False) as tape:
            tape.watch([variable.value for variable in network.trainable_variables])
            terms = self.loss.accumulate(phase.name, z, reals, seed, pl_noise, gen_c, real_c)
            objective = optimizer.scale_loss(terms.objective) if scaled else terms.objective
        # Weights that do not reach the objective (D's output bias in R1) get zero
        # gradients, as in the original, so that Adam still steps their moments.
        variables = network.trainable_variables
        grads = tape.gradient(objective, variables)
        grads = [tf.zeros(v.shape, v.dtype) if g is None else g
                 for v, g in zip(variables, grads, strict=True)]
        if not scaled:
            grads = [nan_to_num(g) for g in grads]
        stats = dict(terms.stats)
        if terms.real_logits is not None:
            stats["real_logits"] = terms.real_logits
        return stats, grads

    def _latents(self, seed, replica) -> tf.Tensor:
        """This replica's share of the step's global latents ``[replica_batch, z_dim]``.

        Replica ``r`` of ``R`` takes samples ``r, r + R, ...``: StyleGAN2 forms
        minibatch-stddev groups with stride ``batch / group``, so the groups on the
        replicas are exactly those of a single-device run.
        """
        z = tf.random.stateless_normal([self.global_batch, self.config.generator.z_dim], seed)
        return z[replica::self.strategy.num_replicas_in_sync]

    def _labels(self, seed, replica) -> tf.Tensor:
        """This replica's share of the step's global one-hot labels of generated images
        ``[replica_batch, c_dim]``, drawn from the training set's label distribution
        (the samples of :meth:`_latents`)."""
        labels = tf.random.stateless_categorical(self._label_logits, self.global_batch, seed)[0]
        return tf.one_hot(labels[replica::self.strategy.num_replicas_in_sync], self.c_dim)


def nan_to_num(gradient: tf.Tensor) -> tf.Tensor:
    """``torch.nan_to_num(g, nan=0, posinf=1e5, neginf=-1e5)``."""
    gradient = tf.where(tf.math.is_nan(gradient), tf.zeros_like(gradient), gradient)
    return tf.where(tf.math.is_inf(gradient), tf.sign(gradient) * 1e5, gradient)
