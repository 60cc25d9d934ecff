"""Convolution with equalised learning rate (StyleGAN2's ``Conv2dLayer``)."""

from __future__ import annotations

import math

import keras

from sfkeras.ops import bias_act
from sfkeras.ops.activation import DEFAULT_GAIN
from sfkeras.ops.conv import conv2d_resample


@keras.saving.register_keras_serializable(package="sfkeras")
class EqualizedConv2D(keras.layers.Layer):
    """``y = clamp(act(conv(x, W / sqrt(in * k * k)) + b) * act_gain * gain, conv_clamp * gain)``.

    The stored kernel ``W [k, k, in, filters]`` is drawn from ``N(0, 1)`` and scaled at
    run time (equalised learning rate); the bias starts at 0. The output gain
    ``act_gain * gain`` is folded into the kernel and bias (``act(g z) = g act(z)`` for
    ``g > 0`` and both activations), which saves a pass over the activations. Padding is ``k // 2``
    ("same"); with ``down=2`` the input is low-pass filtered with [1, 3, 3, 1] before a
    strided convolution, with ``up=2`` the result of a transposed convolution is
    filtered (see :func:`sfkeras.ops.conv.conv2d_resample`). As in the original, an
    up-sampling layer convolves (its kernel is flipped) while the others correlate.

    Shapes: ``x [N, H, W, in] -> [N, H * up / down, W * up / down, filters]``.

    Args:
        filters: output channels.
        kernel_size: odd kernel size ``k``.
        activation: ``"linear"`` or ``"lrelu"`` (the latter with gain ``sqrt(2)``).
        use_bias: add a bias before the activation.
        up: up-sampling factor (1 or 2).
        down: down-sampling factor (1 or 2).
        gain: extra output gain, also applied to the clamp (the original's
            ``forward(x, gain)``; ``sqrt(0.5)`` in residual discriminator blocks).
        conv_clamp: clamp of the output to ``+-conv_clamp * gain``; ``None`` for none.
    """

    def __init__(
        self,
        filters: int,
        kernel_size: int,
        *,
        activation: str = "linear",
        use_bias: bool = True,
        up: int = 1,
        down: int = 1,
        gain: float = 1.0,
        conv_clamp: float | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if activation not in DEFAULT_GAIN:
            raise ValueError(f"activation must be one of {list(DEFAULT_GAIN)}, got {activation!r}")
        if gain <= 0:
            raise ValueError(f"gain must be positive, got {gain}")
        self.filters = filters
        self.kernel_size = kernel_size
        self.activation = activation
        self.use_bias = use_bias
        self.up = up
        self.down = down
        self.gain = gain
        self.conv_clamp = conv_clamp

    def build(self, input_shape):
        in_channels = input_shape[-1]
        self.weight_gain = 1.0 / math.sqrt(in_channels * self.kernel_size**2)
        self.output_gain = DEFAULT_GAIN[self.activation] * self.gain
        self.kernel = self.add_weight(
            name="kernel",
            shape=(self.kernel_size, self.kernel_size, in_channels, self.filters),
            initializer=keras.initializers.RandomNormal(stddev=1.0),
        )
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(name="bias", shape=(self.filters,), initializer="zeros")

    def call(self, x):
        kernel = self.kernel * (self.weight_gain * self.output_gain)
        x = conv2d_resample(x, kernel, up=self.up, down=self.down,
                            padding=self.kernel_size // 2, flip_kernel=self.up > 1)
        bias = None if self.bias is None else self.bias * self.output_gain
        clamp = None if self.conv_clamp is None else self.conv_clamp * self.gain
        return bias_act(x, bias, activation=self.activation, gain=1.0, clamp=clamp)

    def compute_output_shape(self, input_shape):
        batch, height, width, _ = input_shape
        scale = lambda size: None if size is None else size * self.up // self.down  # noqa: E731
        return (batch, scale(height), scale(width), self.filters)

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "activation": self.activation,
            "use_bias": self.use_bias,
            "up": self.up,
            "down": self.down,
            "gain": self.gain,
            "conv_clamp": self.conv_clamp,
        }
