"""Styleformer's ToRGB: a style-modulated, demodulated linear map from tokens to colours."""

from __future__ import annotations

import math

import keras
from keras import ops

from sfkeras.layers.dense import EqualizedDense
from sfkeras.layers.modulation import demodulation


@keras.saving.register_keras_serializable(package="sfkeras")
class DemodulatedToRGB(keras.layers.Layer):
    """``rgb = ((x * s) @ W) * demod(s, W) + b`` with ``s = affine(w)`` (affine bias 1).

    Unlike StyleGAN2's ToRGB, Styleformer's demodulates; there is no clamp.

    Shapes: ``x [N, seq, C]``, ``w [N, w_dim]`` -> ``[N, seq, channels]`` (tokens, so a
    reshape to ``[N, res, res, channels]`` gives the NHWC image).

    Args:
        channels: image channels (3).
    """

    def __init__(self, channels: int = 3, **kwargs):
        super().__init__(**kwargs)
        self.channels = channels

    def build(self, x_shape, w_shape):
        hidden = x_shape[-1]
        self.affine = EqualizedDense(hidden, bias_init=1.0, name="affine")
        self.affine.build(w_shape)
        bound = 1.0 / math.sqrt(hidden)
        self.kernel = self.add_weight(
            name="kernel", shape=(hidden, self.channels),
            initializer=keras.initializers.RandomUniform(-bound, bound))
        self.bias = self.add_weight(name="bias", shape=(self.channels,), initializer="zeros")

    def call(self, x, w):
        styles = self.affine(w)
        rgb = ops.matmul(x * styles[:, None, :], self.kernel)
        return rgb * demodulation(styles, self.kernel)[:, None, :] + self.bias

    def compute_output_shape(self, x_shape, w_shape):
        return (*x_shape[:-1], self.channels)

    def get_config(self):
        return {**super().get_config(), "channels": self.channels}
