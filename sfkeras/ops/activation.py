"""Bias, activation, gain and clamp in one call (StyleGAN2's ``bias_act``) in ``keras.ops``."""

from __future__ import annotations

import math
from typing import Literal

from keras import ops

Activation = Literal["linear", "lrelu"]

#: Gain applied after each activation by default (StyleGAN2's ``def_gain``).
DEFAULT_GAIN = {"linear": 1.0, "lrelu": math.sqrt(2.0)}


def bias_act(
    x,
    bias=None,
    *,
    activation: Activation = "linear",
    gain: float | None = None,
    clamp: float | None = None,
    channel_axis: int = -1,
):
    """``clamp(act(x + bias) * gain)``.

    Args:
        x: tensor of any rank.
        bias: ``[C]`` added along ``channel_axis``, or ``None``.
        activation: ``"linear"`` or ``"lrelu"`` (leaky ReLU with slope 0.2).
        gain: multiplier after the activation; ``None`` picks the activation's default
            (``sqrt(2)`` for ``lrelu``, 1 for ``linear``).
        clamp: clamp the result to ``[-clamp, clamp]``; ``None`` for no clamp.
    """
    if bias is not None:
        shape = [1] * len(x.shape)
        shape[channel_axis] = -1
        x = x + ops.reshape(ops.cast(bias, x.dtype), shape)
    if activation == "lrelu":
        x = ops.leaky_relu(x, negative_slope=0.2)
    elif activation != "linear":
        raise ValueError(f"unknown activation {activation!r}; use 'linear' or 'lrelu'")
    gain = DEFAULT_GAIN[activation] if gain is None else gain
    if gain != 1.0:
        x = x * gain
    if clamp is not None:
        x = ops.clip(x, -clamp, clamp)
    return x
