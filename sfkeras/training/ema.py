"""Exponential moving average of the generator (``G_ema``), as StyleGAN2-ADA keeps it.

After every minibatch, ``G_ema <- lerp(G, G_ema, beta)`` for the trainable weights and
a plain copy for everything else (``w_avg``, constant noise), with a half-life of
``ema_kimg`` thousand images that ramps up with training progress:
``ema_nimg = min(ema_kimg * 1000, cur_nimg * ema_rampup)`` and
``beta = 0.5 ** (batch / max(ema_nimg, 1e-8))`` (so ``G_ema = G`` at the first step
when a ramp-up is set).
"""

from __future__ import annotations

import tensorflow as tf


def ema_beta(
    batch_size: int, cur_nimg: tf.Tensor, ema_kimg: float, ema_rampup: float | None
) -> tf.Tensor:
    """Decay of the generator average for a step taken at ``cur_nimg`` images.

    Args:
        batch_size: global batch of the step.
        cur_nimg: images shown before this step (scalar, any numeric dtype).
        ema_kimg: half-life in thousands of images.
        ema_rampup: ramp-up ratio, or ``None`` for a constant half-life.

    Returns:
        float32 scalar in [0, 1].
    """
    ema_nimg = tf.constant(ema_kimg * 1000.0, tf.float32)
    if ema_rampup is not None:
        ema_nimg = tf.minimum(ema_nimg, tf.cast(cur_nimg, tf.float32) * ema_rampup)
    return tf.pow(0.5, batch_size / tf.maximum(ema_nimg, 1e-8))


def update_ema(ema_model, model, beta: tf.Tensor) -> None:
    """Move ``ema_model`` towards ``model``: lerp trainable weights, copy the others.

    Both models must have the same architecture (variables pair up in order).
    """
    for ema_var, var in zip(ema_model.trainable_variables, model.trainable_variables,
                            strict=True):
        ema_var.assign(var + (ema_var - var) * tf.cast(beta, var.dtype))
    for ema_var, var in zip(ema_model.non_trainable_variables,
                            model.non_trainable_variables, strict=True):
        ema_var.assign(var)
