"""Adaptive discriminator augmentation: the controller of the augmentation probability.

StyleGAN2-ADA's heuristic (``training_loop.py``): D's overfitting is measured by
``r_t = E[sign(D(aug(x_real)))]`` over every real logit since the last adjustment;
every ``interval`` training steps

    p <- max(p + sign(r_t - target) * batch_size * interval / (kimg * 1000), 0)

so that ``p`` can move from 0 to 1 in ``kimg`` thousand images. ``p`` has no upper
clamp here, as in the original; the pipeline uses ``min(p, max_p)``
(:class:`sfkeras.training.augment.AugmentPipe`), Styleformer's clamp for Linformer
models.
"""

from __future__ import annotations

import tensorflow as tf

from sfkeras.config.augment import AugmentConfig


class AdaController(tf.Module):
    """Accumulates the sign of D's real logits and adjusts ``p`` every ``interval`` steps.

    Usable inside ``tf.function``. The statistics are ``tf.Variable`` sums with
    ``SUM`` aggregation, so :meth:`accumulate` called in each replica of a
    ``tf.distribute`` strategy sums over replicas; build the controller (like the
    pipeline) inside the strategy's scope, and call :meth:`update` in cross-replica
    context.

    Args:
        config: the ``augment`` section: ``mode`` (``ada`` adjusts ``p``; ``fixed`` and
            ``noaug`` leave it alone), ``target``, ``interval`` and ``kimg``.
        batch_size: the global batch size (images per training step, all replicas).
        p: the variable to adjust (``AugmentPipe.p``); ``None`` for mode ``noaug``,
            where the augmentation probability is 0.
    """

    def __init__(self, config: AugmentConfig, batch_size: int, p: tf.Variable | None):
        super().__init__(name="ada")
        if (p is None) != (config.mode == "noaug"):
            expected = "None" if config.mode == "noaug" else "the pipeline's p variable"
            raise ValueError(f"augment mode {config.mode!r} needs p to be {expected}")
        self.mode = config.mode
        self.target = config.target
        self.step_size = batch_size * config.interval / (config.kimg * 1000)
        self.p = p
        aggregation = tf.VariableAggregation.SUM
        self.sign_sum = tf.Variable(0.0, trainable=False, aggregation=aggregation, name="sign_sum")
        self.count = tf.Variable(0.0, trainable=False, aggregation=aggregation, name="count")

    def accumulate(self, real_logits) -> None:
        """Record ``sign(real_logits)`` (any shape; D's logits on augmented real images)."""
        real_logits = tf.cast(real_logits, tf.float32)
        self.sign_sum.assign_add(tf.reduce_sum(tf.sign(real_logits)))
        self.count.assign_add(tf.cast(tf.size(real_logits), tf.float32))

    def overfitting(self) -> tf.Tensor:
        """``r_t``: mean sign of the real logits accumulated since the last update (0 if none)."""
        return self.sign_sum / tf.maximum(self.count, 1.0)

    def update(self) -> tf.Tensor:
        """Adjust ``p`` (mode ``ada``), reset the statistics and return the new ``p``.

        Call once every ``interval`` training steps. Without accumulated logits ``p``
        stays as it is.
        """
        if self.p is None:
            new_p = tf.constant(0.0)
        elif self.mode == "ada":
            direction = tf.sign(self.overfitting() - self.target)
            direction = tf.where(self.count > 0, direction, 0.0)
            p = tf.cast(tf.convert_to_tensor(self.p), tf.float32)
            new_p = tf.maximum(p + direction * self.step_size, 0.0)
            self.p.assign(tf.cast(new_p, self.p.dtype))
        else:
            new_p = tf.cast(tf.convert_to_tensor(self.p), tf.float32)
        self.sign_sum.assign(0.0)
        self.count.assign(0.0)
        return new_p
