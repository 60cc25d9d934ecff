"""``EqualizedConv2D`` against the original ``Conv2dLayer`` formula in NumPy."""

import math

import numpy as np
import pytest
from test_conv_ops import reference_conv2d_resample

from sfkeras.layers.conv import EqualizedConv2D


def reference_layer(x, kernel, bias, *, up, down, gain, clamp, activation):
    """clamp(act(conv2d_resample(x, W / sqrt(in k k)) + b) * act_gain * gain, clamp * gain)."""
    kernel_size, in_channels = kernel.shape[0], kernel.shape[2]
    y = reference_conv2d_resample(x, kernel / math.sqrt(in_channels * kernel_size**2), up,
                                  down, kernel_size // 2, flip_kernel=up > 1)
    y = y + (0 if bias is None else bias)
    act_gain = 1.0
    if activation == "lrelu":
        y = np.where(y >= 0, y, 0.2 * y)
        act_gain = math.sqrt(2)
    y = y * act_gain * gain
    return y if clamp is None else np.clip(y, -clamp * gain, clamp * gain)


@pytest.mark.parametrize(
    "kernel_size,up,down,gain,clamp,activation,use_bias",
    [(3, 1, 1, 1.0, 256.0, "lrelu", True), (3, 1, 2, math.sqrt(0.5), 0.5, "lrelu", True),
     (1, 1, 2, math.sqrt(0.5), None, "linear", False), (3, 2, 1, 1.0, None, "lrelu", True),
     (1, 1, 1, 1.0, 0.3, "lrelu", True)],
)
def test_matches_the_original_formula(rng, kernel_size, up, down, gain, clamp, activation,
                                      use_bias):
    layer = EqualizedConv2D(4, kernel_size, activation=activation, use_bias=use_bias, up=up,
                            down=down, gain=gain, conv_clamp=clamp)
    x = rng.standard_normal((2, 8, 8, 3)).astype("float32")
    layer.build(x.shape)
    if use_bias:
        layer.bias.assign(rng.standard_normal(4).astype("float32"))
    got = np.asarray(layer(x))
    bias = np.asarray(layer.bias) if use_bias else None
    expected = reference_layer(x, np.asarray(layer.kernel), bias, up=up, down=down, gain=gain,
                               clamp=clamp, activation=activation)
    assert got.shape == layer.compute_output_shape(x.shape) == (2, 8 * up // down,
                                                                8 * up // down, 4)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_config_round_trip():
    layer = EqualizedConv2D(8, 3, activation="lrelu", down=2, gain=0.5, conv_clamp=256.0)
    clone = EqualizedConv2D.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()


@pytest.mark.parametrize("kwargs,match", [({"activation": "relu"}, "activation"),
                                          ({"gain": 0.0}, "gain")])
def test_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        EqualizedConv2D(4, 3, **kwargs)
