"""StyleGAN2-ADA's training phases: their schedule, losses and objectives, in one place.

A training step runs the phases of :data:`PHASES` that :func:`phases_at` schedules, in
order, each followed by its own optimiser step (the original's
``accumulate_gradients(phase, ...)``):

    * ``Gmain`` (every step): ``softplus(-D(aug(G(z))))``.
    * ``Greg`` (every ``g_reg_interval`` steps, when ``pl_weight > 0``): path-length
      penalty ``pl_weight * (|J^T y| - pl_mean)^2`` on ``batch / pl_batch_shrink``
      samples.
    * ``Dmain`` (every step): ``softplus(D(aug(G(z)))) + softplus(-D(aug(x)))``.
    * ``Dreg`` (every ``d_reg_interval`` steps, when ``r1_gamma > 0``): R1,
      ``(r1_gamma / 2) * |d D(aug(x)) / d x|^2`` on the real images (gradients flow
      through the augmentation).

:meth:`StyleGAN2Loss.accumulate` returns a phase's objective on one replica: its
per-sample loss summed over the replica's samples, divided by the phase's global batch
(``batch // pl_batch_shrink`` for ``Greg``) and multiplied by its gain, the lazy
regularisation interval for ``Greg`` and ``Dreg``; summed over replicas, that is the
original's ``loss.mean() * gain``. Its statistics are sums over the replica's samples;
summed over replicas and divided by :attr:`StyleGAN2Loss.stat_batch`, they are the
global-batch means the original reports.

A conditional network's phases take one-hot labels: ``gen_c`` for the generated images
(with the latents; the same labels for G and for D's view of its images) and ``real_c``
for the real ones, as the original's ``gen_c`` and ``real_c``; both are ``None`` for an
unconditional network.

Randomness is stateless: each call takes a ``seed`` (int ``[2]``) derived from the
step, phase and replica, from which it draws the style-mixing cutoff, the synthesis
noise, the augmentations and the path-length noise, so a step is a pure function of the
state it starts from (and resumes exactly).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import keras
import tensorflow as tf

from sfkeras.config import AugmentConfig, TrainConfig
from sfkeras.ops import at_least_float32

ImageFn = Callable[[tf.Tensor], tf.Tensor]


@dataclasses.dataclass(frozen=True)
class Phase:
    """One training phase.

    Attributes:
        name: ``Gmain``, ``Greg``, ``Dmain`` or ``Dreg``.
        network: the network it trains, ``G`` or ``D``.
        stat: the loss statistic it reports (named in divergence errors).
    """

    name: str
    network: str
    stat: str


#: The training phases, in the order a step runs them.
PHASES = (Phase("Gmain", "G", "loss/G"), Phase("Greg", "G", "loss/pl_penalty"),
          Phase("Dmain", "D", "loss/D"), Phase("Dreg", "D", "loss/r1_penalty"))
PHASE_OF_STAT = {phase.stat: phase.name for phase in PHASES}


@dataclasses.dataclass(frozen=True)
class StepPhases:
    """What step ``step`` runs.

    Attributes:
        phases: the phases, in order (``Gmain`` and ``Dmain`` always).
        ada_update: adjust the augmentation probability after the step.
    """

    phases: tuple[Phase, ...]
    ada_update: bool = False

    @property
    def key(self) -> tuple[str, ...]:
        """The phase names: steps with the same key run the same computation."""
        return tuple(phase.name for phase in self.phases)


def phases_at(step: int, train: TrainConfig, augment: AugmentConfig | None = None) -> StepPhases:
    """The phases of step ``step`` (0-based) under the ``train`` and ``augment`` recipe.

    ``Greg`` runs when ``step % g_reg_interval == 0`` (and ``pl_weight > 0``), ``Dreg``
    when ``step % d_reg_interval == 0`` (and ``r1_gamma > 0``), as the original's
    ``batch_idx % phase.interval == 0``. ADA adjusts p when the number of steps done,
    ``step + 1``, is a multiple of ``augment.interval``.
    """
    runs = {"Gmain": True, "Dmain": True,
            "Greg": train.pl_weight > 0 and step % train.g_reg_interval == 0,
            "Dreg": train.r1_gamma > 0 and step % train.d_reg_interval == 0}
    return StepPhases(
        phases=tuple(phase for phase in PHASES if runs[phase.name]),
        ada_update=augment is not None and augment.mode == "ada"
        and (step + 1) % augment.interval == 0,
    )


@dataclasses.dataclass(frozen=True)
class LossSettings:
    """Loss hyper-parameters (the ``train`` section's recipe values).

    Attributes:
        global_batch: images per step over all replicas.
        r1_gamma: R1 weight (the penalty is multiplied by ``r1_gamma / 2``).
        style_mixing_prob: probability of mixing two latents in a minibatch.
        pl_weight: path-length weight (0 = off).
        pl_batch_shrink: path-length batch is ``batch // pl_batch_shrink``.
        pl_decay: decay of the path-length running mean.
        g_reg_interval, d_reg_interval: lazy-regularisation intervals (the gains of
            ``Greg`` and ``Dreg``).
    """

    global_batch: int
    r1_gamma: float
    style_mixing_prob: float = 0.0
    pl_weight: float = 0.0
    pl_batch_shrink: int = 2
    pl_decay: float = 0.01
    g_reg_interval: int = 4
    d_reg_interval: int = 16

    @classmethod
    def from_train(cls, train: TrainConfig) -> LossSettings:
        return cls(global_batch=train.batch_size, r1_gamma=train.r1_gamma,
                   style_mixing_prob=train.style_mixing_prob, pl_weight=train.pl_weight,
                   pl_batch_shrink=train.pl_batch_shrink, pl_decay=train.pl_decay,
                   g_reg_interval=train.g_reg_interval, d_reg_interval=train.d_reg_interval)


@dataclasses.dataclass(frozen=True)
class PhaseTerms:
    """What one phase computes on one replica.

    Attributes:
        objective: the scalar to differentiate (see the module docstring).
        stats: loss statistics summed over the replica's samples.
        real_logits: D's logits of the real images (``Dmain``, ``Dreg``; for ADA), or
            ``None``.
    """

    objective: tf.Tensor
    stats: dict[str, tf.Tensor]
    real_logits: tf.Tensor | None = None


class StyleGAN2Loss:
    """The four training phases' losses for a generator ``G`` and discriminator ``D``.

    Args:
        generator: ``Generator`` with ``mapping(z, c, update_w_avg=...)`` and
            ``synthesis(ws, noise_mode=...)``.
        discriminator: maps NHWC images in [-1, 1] (and labels ``c``, when given) to
            logits ``[N, 1]``.
        settings: loss hyper-parameters.
        augment: ``augment(images, seed=...)`` applied to every image D sees
            (``AugmentPipe``; ``None``: no augmentation).
        noise_mode: synthesis noise during training (``random``; ``const`` in tests).
    """

    def __init__(
        self,
        generator,
        discriminator,
        settings: LossSettings,
        *,
        augment: ImageFn | None = None,
        noise_mode: str = "random",
    ):
        self.generator = generator
        self.discriminator = discriminator
        self.settings = settings
        self.augment = augment
        self.noise_mode = noise_mode
        # floatx: float32, float64 when the networks are built under a float64 policy.
        self.pl_mean = tf.Variable(0.0, trainable=False, name="pl_mean",
                                   dtype=keras.config.floatx(),
                                   aggregation=tf.VariableAggregation.MEAN)
        batch = settings.global_batch
        #: Samples each statistic averages over, in all replicas.
        self.stat_batch = {"loss/G": batch, "loss/pl_penalty": batch // settings.pl_batch_shrink,
                           "loss/D": batch, "loss/r1_penalty": batch}
        self._objectives = {"Gmain": self._generator_main_terms,
                            "Greg": self._generator_reg_terms,
                            "Dmain": self._discriminator_main_terms,
                            "Dreg": self._discriminator_reg_terms}

    def accumulate(self, phase: str, z: tf.Tensor | None, reals: tf.Tensor, seed: tf.Tensor,
                   pl_noise: tf.Tensor | None = None, gen_c: tf.Tensor | None = None,
                   real_c: tf.Tensor | None = None) -> PhaseTerms:
        """Phase ``phase``'s objective and statistics on one replica.

        Args:
            phase: a name of :data:`PHASES`.
            z: the replica's latents ``[replica_batch, z_dim]`` (unused by ``Dreg``).
            reals: the replica's real images ``[replica_batch, H, W, C]``.
            seed: int ``[2]`` seed of the phase's other randomness (style mixing,
                augmentation, path-length noise).
            pl_noise: ``Greg``'s image directions (``None``: drawn from ``seed``; see
                :meth:`generator_path_length`).
            gen_c, real_c: one-hot labels ``[replica_batch, c_dim]`` of the generated
                and the real images (``None``: unconditional).
        """
        return self._objectives[phase](z, reals, seed, pl_noise, gen_c, real_c)

    def _generator_main_terms(self, z, reals, seed, pl_noise, gen_c, real_c) -> PhaseTerms:
        loss, _ = self.generator_main(z, seed, gen_c)
        return PhaseTerms(objective=tf.reduce_sum(loss) / self.settings.global_batch,
                          stats={"loss/G": tf.reduce_sum(loss)})

    def _generator_reg_terms(self, z, reals, seed, pl_noise, gen_c, real_c) -> PhaseTerms:
        settings = self.settings
        loss = self.generator_path_length(z, seed, pl_noise, gen_c)
        batch = settings.global_batch // settings.pl_batch_shrink
        return PhaseTerms(
            objective=tf.reduce_sum(loss) * settings.g_reg_interval / batch,
            stats={"loss/pl_penalty": tf.reduce_sum(loss) / settings.pl_weight})

    def _discriminator_main_terms(self, z, reals, seed, pl_noise, gen_c, real_c) -> PhaseTerms:
        loss, real_logits = self.discriminator_main(z, reals, seed, gen_c, real_c)
        return PhaseTerms(objective=tf.reduce_sum(loss) / self.settings.global_batch,
                          stats={"loss/D": tf.reduce_sum(loss)}, real_logits=real_logits)

    def _discriminator_reg_terms(self, z, reals, seed, pl_noise, gen_c, real_c) -> PhaseTerms:
        settings = self.settings
        loss, penalty, real_logits = self.discriminator_r1(reals, seed, real_c)
        return PhaseTerms(
            objective=tf.reduce_sum(loss) * settings.d_reg_interval / settings.global_batch,
            stats={"loss/r1_penalty": tf.reduce_sum(penalty)},
            real_logits=real_logits)

    def run_generator(self, z: tf.Tensor, seed: tf.Tensor,
                      c: tf.Tensor | None = None) -> tuple[tf.Tensor, tf.Tensor]:
        """``z [N, z_dim]`` (and labels ``c [N, c_dim]``) -> images ``[N, H, W, C]`` and
        ws ``[N, num_ws, w_dim]``.

        Updates ``w_avg`` (as the original's mapping does in training mode) and mixes
        styles with probability ``style_mixing_prob``: one cutoff for the minibatch,
        uniform in ``[1, num_ws)``; ws from the cutoff on come from a second latent
        (with the same labels).
        Random synthesis noise is drawn statelessly from ``seed`` (so it differs per
        step, phase and replica, and resumes exactly).
        """
        ws = self.generator.mapping(z, c, update_w_avg=True)
        if self.settings.style_mixing_prob > 0:
            ws = self._mix_styles(ws, z, tf.random.experimental.stateless_fold_in(seed, 1), c)
        noise_seed = tf.cast(tf.random.experimental.stateless_fold_in(seed, 5), tf.int32)
        images = self.generator.synthesis(ws, noise_mode=self.noise_mode, noise_seed=noise_seed)
        return at_least_float32(images), ws

    def run_discriminator(self, images: tf.Tensor, seed: tf.Tensor,
                          c: tf.Tensor | None = None) -> tf.Tensor:
        """Augment (if set) and discriminate: images ``[N, H, W, C]`` (and labels ``c``)
        -> logits ``[N]``."""
        if self.augment is not None:
            images = self.augment(images, seed=seed)
        logits = self.discriminator(images) if c is None else self.discriminator(images, c)
        return tf.reshape(at_least_float32(logits), [-1])

    def generator_main(self, z: tf.Tensor, seed: tf.Tensor,
                       c: tf.Tensor | None = None) -> tuple[tf.Tensor, tf.Tensor]:
        """Gmain: per-sample ``softplus(-D(G(z, c), c))`` and the fake logits."""
        images, _ = self.run_generator(z, seed, c)
        logits = self.run_discriminator(
            images, tf.random.experimental.stateless_fold_in(seed, 2), c)
        return tf.nn.softplus(-logits), logits

    def generator_path_length(self, z: tf.Tensor, seed: tf.Tensor,
                              noise: tf.Tensor | None = None,
                              c: tf.Tensor | None = None) -> tf.Tensor:
        """Greg: per-sample path-length penalty times ``pl_weight`` (``[N // shrink]``).

        ``noise`` (``[N // shrink, H, W, C]``, standard normal; ``None``: drawn from
        ``seed``) is the random image direction, divided by ``sqrt(H * W)`` as the
        original does. Updates the running mean ``pl_mean``.
        """
        batch = tf.shape(z)[0] // self.settings.pl_batch_shrink
        z, c = z[:batch], None if c is None else c[:batch]
        with tf.GradientTape() as tape:
            images, ws = self.run_generator(z, seed, c)
            tape.watch(ws)
            size = tf.cast(tf.shape(images)[1] * tf.shape(images)[2], images.dtype)
            if noise is None:
                noise = tf.random.stateless_normal(
                    tf.shape(images), tf.random.experimental.stateless_fold_in(seed, 3))
            projection = tf.reduce_sum(images * (tf.cast(noise, images.dtype) / tf.sqrt(size)))
        grads = at_least_float32(tape.gradient(projection, ws))  # ws: float16 if mixed
        lengths = tf.sqrt(tf.reduce_mean(tf.reduce_sum(tf.square(grads), axis=2), axis=1))
        pl_mean = self.pl_mean + (tf.reduce_mean(lengths) - self.pl_mean) * self.settings.pl_decay
        self.pl_mean.assign(tf.stop_gradient(pl_mean))
        return tf.square(lengths - pl_mean) * self.settings.pl_weight

    def discriminator_main(
        self, z: tf.Tensor, reals: tf.Tensor, seed: tf.Tensor, gen_c: tf.Tensor | None = None,
        real_c: tf.Tensor | None = None,
    ) -> tuple[tf.Tensor, tf.Tensor]:
        """Dmain: per-sample ``softplus(D(G(z, gen_c), gen_c)) + softplus(-D(x, real_c))``
        and the real logits."""
        fakes, _ = self.run_generator(z, seed, gen_c)
        fake_logits = self.run_discriminator(
            tf.stop_gradient(fakes), tf.random.experimental.stateless_fold_in(seed, 2), gen_c)
        real_logits = self.run_discriminator(
            reals, tf.random.experimental.stateless_fold_in(seed, 4), real_c)
        return tf.nn.softplus(fake_logits) + tf.nn.softplus(-real_logits), real_logits

    def discriminator_r1(
        self, reals: tf.Tensor, seed: tf.Tensor, c: tf.Tensor | None = None
    ) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        """Dreg: per-sample R1 loss ``(gamma/2) * penalty``, the penalty and real logits.

        The penalty is ``sum((d sum(D(aug(x))) / dx)^2)`` over each image; its
        gradient w.r.t. D's weights is a second-order derivative.
        """
        with tf.GradientTape() as tape:
            tape.watch(reals)
            logits = self.run_discriminator(
                reals, tf.random.experimental.stateless_fold_in(seed, 4), c)
            total = tf.reduce_sum(logits)
        grads = tape.gradient(total, reals)
        penalty = tf.reduce_sum(tf.square(at_least_float32(grads)), axis=[1, 2, 3])
        return penalty * (self.settings.r1_gamma / 2), penalty, logits

    def _mix_styles(self, ws: tf.Tensor, z: tf.Tensor, seed: tf.Tensor,
                    c: tf.Tensor | None = None) -> tf.Tensor:
        num_ws = ws.shape[1]
        seeds = tf.random.experimental.stateless_split(seed, 3)
        cutoff = tf.random.stateless_uniform([], seeds[0], 1, num_ws, dtype=tf.int32)
        mix = tf.random.stateless_uniform([], seeds[1]) < self.settings.style_mixing_prob
        cutoff = tf.where(mix, cutoff, num_ws)
        other = self.generator.mapping(
            tf.random.stateless_normal(tf.shape(z), seeds[2], dtype=z.dtype), c,
            update_w_avg=False)
        keep = tf.range(num_ws) < cutoff
        return tf.where(keep[None, :, None], ws, other)
