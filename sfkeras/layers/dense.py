"""Fully connected layer with equalised learning rate (StyleGAN2's ``FullyConnectedLayer``)."""

from __future__ import annotations

import math

import keras
from keras import ops

from sfkeras.ops import bias_act


@keras.saving.register_keras_serializable(package="sfkeras")
class EqualizedDense(keras.layers.Layer):
    """``y = act(x @ (W * lr_multiplier / sqrt(in)) + b * lr_multiplier)``.

    The stored kernel ``W [in, units]`` is initialised from ``N(0, 1) / lr_multiplier``
    and scaled at run time, so Adam sees every weight at the same scale (equalised
    learning rate). The bias is stored as initialised (``bias_init``) and used as
    ``bias * lr_multiplier``, as in the original (so stored weights import 1:1).

    Shapes: ``x [..., in] -> [..., units]``.

    Args:
        units: output features.
        activation: ``"linear"`` or ``"lrelu"`` (the latter multiplied by ``sqrt(2)``).
        lr_multiplier: learning-rate multiplier (0.01 in the mapping network).
        bias_init: initial stored bias (1 for the style affines).
        use_bias: whether to add a bias.
    """

    def __init__(
        self,
        units: int,
        *,
        activation: str = "linear",
        lr_multiplier: float = 1.0,
        bias_init: float = 0.0,
        use_bias: bool = True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.units = units
        self.activation = activation
        self.lr_multiplier = lr_multiplier
        self.bias_init = bias_init
        self.use_bias = use_bias

    def build(self, input_shape):
        in_features = input_shape[-1]
        self.weight_gain = self.lr_multiplier / math.sqrt(in_features)
        self.kernel = self.add_weight(
            name="kernel",
            shape=(in_features, self.units),
            initializer=keras.initializers.RandomNormal(stddev=1.0 / self.lr_multiplier),
        )
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(
                name="bias",
                shape=(self.units,),
                initializer=keras.initializers.Constant(self.bias_init),
            )

    def call(self, x):
        x = ops.matmul(x, self.kernel * self.weight_gain)
        bias = None if self.bias is None else self.bias * self.lr_multiplier
        return bias_act(x, bias, activation=self.activation)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "activation": self.activation,
            "lr_multiplier": self.lr_multiplier,
            "bias_init": self.bias_init,
            "use_bias": self.use_bias,
        }
