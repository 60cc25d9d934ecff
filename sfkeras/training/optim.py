"""Adam as StyleGAN2-ADA builds it: PyTorch's update rule and lazy-regularisation settings.

With lazy regularisation the regulariser runs every ``interval`` steps, so each
network gets ``interval + 1`` optimiser steps per ``interval`` minibatches. The
original compensates by building its Adam with ``r = interval / (interval + 1)``:
learning rate ``lr * r`` and betas ``beta ** r``. G keeps ``r = 4/5`` even when
path-length regularisation is off (its ``Greg`` phase then does nothing).
"""

from __future__ import annotations

import dataclasses

import keras
from keras import ops


@dataclasses.dataclass(frozen=True)
class AdamSettings:
    """Adam hyper-parameters after the lazy-regularisation adjustment.

    Attributes:
        learning_rate: ``lr * r``.
        beta_1, beta_2: ``beta ** r``.
        epsilon: unchanged.
    """

    learning_rate: float
    beta_1: float
    beta_2: float
    epsilon: float


def lazy_regularization_ratio(reg_interval: int) -> float:
    """``r = interval / (interval + 1)``: optimiser steps per minibatch fraction."""
    return reg_interval / (reg_interval + 1)


def lazy_adam_settings(
    learning_rate: float, betas: tuple[float, float], epsilon: float, reg_interval: int
) -> AdamSettings:
    """Adam settings for a network regularised every ``reg_interval`` minibatches."""
    ratio = lazy_regularization_ratio(reg_interval)
    beta_1, beta_2 = betas
    return AdamSettings(
        learning_rate=learning_rate * ratio,
        beta_1=beta_1**ratio,
        beta_2=beta_2**ratio,
        epsilon=epsilon,
    )


@keras.saving.register_keras_serializable(package="sfkeras")
class TorchAdam(keras.optimizers.Adam):
    """Adam with PyTorch's update ``lr * m_hat / (sqrt(v_hat) + eps)``.

    Keras' Adam adds ``epsilon`` to ``sqrt(v)`` before bias correction, i.e. it uses
    ``eps * sqrt(1 - beta_2**t)`` in PyTorch's formula; the original trains with
    PyTorch's, which matters early in training and when ``v`` is tiny.
    """

    def update_step(self, gradient, variable, learning_rate):
        dtype = variable.dtype
        lr = ops.cast(learning_rate, dtype)
        gradient = ops.cast(gradient, dtype)
        step = ops.cast(self.iterations + 1, dtype)
        # The betas are converted to the variable's dtype directly: a cast of the Python
        # float would round it to float32 first (2e-6 of a float64 update).
        correction_1 = 1 - ops.power(ops.convert_to_tensor(self.beta_1, dtype), step)
        correction_2 = 1 - ops.power(ops.convert_to_tensor(self.beta_2, dtype), step)
        index = self._get_variable_index(variable)
        m = self._momentums[index]
        v = self._velocities[index]
        self.assign_add(m, ops.multiply(ops.subtract(gradient, m), 1 - self.beta_1))
        self.assign_add(v, ops.multiply(ops.subtract(ops.square(gradient), v), 1 - self.beta_2))
        denominator = ops.sqrt(ops.divide(v, correction_2)) + self.epsilon
        self.assign_sub(variable, ops.divide(ops.multiply(m, lr / correction_1), denominator))


def build_lazy_adam(
    learning_rate: float,
    betas: tuple[float, float],
    epsilon: float,
    reg_interval: int,
    *,
    name: str,
) -> TorchAdam:
    """The optimiser of one network under lazy regularisation every ``reg_interval``."""
    settings = lazy_adam_settings(learning_rate, betas, epsilon, reg_interval)
    return TorchAdam(
        learning_rate=settings.learning_rate,
        beta_1=settings.beta_1,
        beta_2=settings.beta_2,
        epsilon=settings.epsilon,
        name=name,
    )
