"""StyleGAN2's mapping network ``z -> ws`` with the tracked average ``w_avg`` and truncation."""

from __future__ import annotations

import keras
from keras import ops

from sfkeras.layers.dense import EqualizedDense


def normalize_2nd_moment(x, epsilon: float = 1e-8):
    """``x * rsqrt(mean(x^2, axis=-1) + eps)``: ``[N, D] -> [N, D]``."""
    return x * ops.rsqrt(ops.mean(ops.square(x), axis=-1, keepdims=True) + epsilon)


@keras.saving.register_keras_serializable(package="sfkeras")
class MappingNetwork(keras.layers.Layer):
    """``z [N, z_dim] -> ws [N, num_ws, w_dim]``.

    ``z`` is normalised by its second moment and passed through ``num_layers``
    equalised dense layers (leaky ReLU 0.2 times sqrt(2), learning-rate multiplier
    0.01); the resulting ``w`` is broadcast to ``num_ws`` copies. ``w_avg`` (a
    non-trainable variable, averaged across replicas) tracks the mean ``w`` with decay
    ``w_avg_beta`` when asked to; truncation moves ws towards it.

    Args:
        w_dim: intermediate latent size (also the width of the hidden layers).
        num_ws: number of copies of ``w`` the synthesis network reads.
        num_layers: dense layers.
        lr_multiplier: learning-rate multiplier of the dense layers.
        w_avg_beta: decay of the ``w_avg`` update.
    """

    def __init__(
        self,
        w_dim: int,
        num_ws: int,
        *,
        num_layers: int = 2,
        lr_multiplier: float = 0.01,
        w_avg_beta: float = 0.995,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.w_dim = w_dim
        self.num_ws = num_ws
        self.num_layers = num_layers
        self.lr_multiplier = lr_multiplier
        self.w_avg_beta = w_avg_beta
        self.dense_layers = [
            EqualizedDense(w_dim, activation="lrelu", lr_multiplier=lr_multiplier, name=f"fc{i}")
            for i in range(num_layers)
        ]

    def build(self, z_shape):
        shape = tuple(z_shape)
        for layer in self.dense_layers:
            layer.build(shape)
            shape = layer.compute_output_shape(shape)
        self.w_avg = self.add_weight(
            name="w_avg", shape=(self.w_dim,), initializer="zeros", trainable=False,
            aggregation="mean")

    def call(self, z, truncation_psi=1.0, truncation_cutoff: int | None = None,
             update_w_avg: bool = False):
        """Map latents to ws.

        Args:
            z: ``[N, z_dim]``.
            truncation_psi: ``ws = w_avg + psi * (ws - w_avg)``; 1 disables truncation.
            truncation_cutoff: truncate only the first ``cutoff`` ws (``None``: all).
            update_w_avg: move ``w_avg`` towards this batch's mean ``w`` (training).

        Returns:
            ``[N, num_ws, w_dim]``.
        """
        w = normalize_2nd_moment(z)
        for layer in self.dense_layers:
            w = layer(w)
        if update_w_avg:
            batch_mean = ops.stop_gradient(ops.mean(w, axis=0))
            self.w_avg.assign(batch_mean + self.w_avg_beta * (self.w_avg - batch_mean))
        ws = ops.broadcast_to(w[:, None, :], (ops.shape(w)[0], self.num_ws, self.w_dim))
        if isinstance(truncation_psi, int | float) and truncation_psi == 1:
            return ws
        truncated = self.w_avg + truncation_psi * (ws - self.w_avg)
        if truncation_cutoff is None:
            return truncated
        return ops.concatenate([truncated[:, :truncation_cutoff], ws[:, truncation_cutoff:]], 1)

    def compute_output_shape(self, z_shape):
        return (z_shape[0], self.num_ws, self.w_dim)

    def get_config(self):
        return {
            **super().get_config(),
            "w_dim": self.w_dim,
            "num_ws": self.num_ws,
            "num_layers": self.num_layers,
            "lr_multiplier": self.lr_multiplier,
            "w_avg_beta": self.w_avg_beta,
        }
