"""StyleGAN2's mapping networks: ``(z, c) -> ws`` for the generator (with the tracked
average ``w_avg`` and truncation) and ``c -> cmap`` for the discriminator's projection."""

from __future__ import annotations

import keras
from keras import ops

from sfkeras.layers.dense import EqualizedDense
from sfkeras.ops import at_least_float32


def normalize_2nd_moment(x, epsilon: float = 1e-8):
    """``x * rsqrt(mean(x^2, axis=-1) + eps)``: ``[N, D] -> [N, D]``."""
    return x * ops.rsqrt(ops.mean(ops.square(x), axis=-1, keepdims=True) + epsilon)


def dense_stack(units: int, num_layers: int, lr_multiplier: float) -> list[EqualizedDense]:
    """The mapping layers ``fc0 .. fc{num_layers - 1}``: equalised dense layers of
    ``units`` features, leaky ReLU 0.2 times sqrt(2), learning-rate multiplier
    ``lr_multiplier``."""
    return [EqualizedDense(units, activation="lrelu", lr_multiplier=lr_multiplier, name=f"fc{i}")
            for i in range(num_layers)]


def check_labels(c, c_dim: int, network: str):
    """``c`` as (at least) float32 ``[N, c_dim]`` one-hot labels of a network conditioned on
    ``c_dim`` classes.

    Raises:
        ValueError: ``c`` is missing or has another width.
    """
    if c is None:
        raise ValueError(f"the {network} is conditional (c_dim={c_dim}): pass c, one-hot "
                         f"class labels [N, {c_dim}]")
    c = at_least_float32(c)
    if c.shape[-1] is not None and c.shape[-1] != c_dim:
        raise ValueError(f"the {network} takes labels c of shape [N, {c_dim}], got "
                         f"{tuple(c.shape)}")
    return c


@keras.saving.register_keras_serializable(package="sfkeras")
class MappingNetwork(keras.layers.Layer):
    """``z [N, z_dim]`` (and labels ``c [N, c_dim]``) ``-> ws [N, num_ws, w_dim]``.

    ``z`` is normalised by its second moment; a conditional network (``c_dim > 0``)
    embeds the one-hot ``c`` with the linear layer ``embed`` (``c_dim -> w_dim``),
    normalises the embedding by its second moment too and concatenates it after ``z``.
    The result passes through ``num_layers`` equalised dense layers (leaky ReLU 0.2
    times sqrt(2), learning-rate multiplier 0.01); the resulting ``w`` is broadcast to
    ``num_ws`` copies. ``w_avg`` (a
    non-trainable variable, averaged across replicas) tracks the mean ``w`` with decay
    ``w_avg_beta`` when asked to; truncation moves ws towards it.

    Args:
        w_dim: intermediate latent size (also the width of the hidden layers and of
            the label embedding).
        num_ws: number of copies of ``w`` the synthesis network reads.
        c_dim: classes of the labels, 0 for an unconditional network.
        num_layers: dense layers.
        lr_multiplier: learning-rate multiplier of the dense layers.
        w_avg_beta: decay of the ``w_avg`` update.
    """

    def __init__(
        self,
        w_dim: int,
        num_ws: int,
        *,
        c_dim: int = 0,
        num_layers: int = 2,
        lr_multiplier: float = 0.01,
        w_avg_beta: float = 0.995,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.w_dim = w_dim
        self.num_ws = num_ws
        self.c_dim = c_dim
        self.num_layers = num_layers
        self.lr_multiplier = lr_multiplier
        self.w_avg_beta = w_avg_beta
        self.embed = EqualizedDense(w_dim, name="embed") if c_dim else None
        self.dense_layers = dense_stack(w_dim, num_layers, lr_multiplier)

    def build(self, z_shape):
        shape = tuple(z_shape)
        if self.embed is not None:
            self.embed.build((shape[0], self.c_dim))
            shape = (shape[0], shape[-1] + self.w_dim)
        for layer in self.dense_layers:
            layer.build(shape)
            shape = layer.compute_output_shape(shape)
        self.w_avg = self.add_weight(
            name="w_avg", shape=(self.w_dim,), initializer="zeros", trainable=False,
            aggregation="mean")

    def call(self, z, c=None, truncation_psi=1.0, truncation_cutoff: int | None = None,
             update_w_avg: bool = False):
        """Map latents (and labels) to ws.

        Args:
            z: ``[N, z_dim]``.
            c: one-hot labels ``[N, c_dim]`` of a conditional network; ignored by an
                unconditional one.
            truncation_psi: ``ws = w_avg + psi * (ws - w_avg)``; 1 disables truncation.
            truncation_cutoff: truncate only the first ``cutoff`` ws (``None``: all).
            update_w_avg: move ``w_avg`` towards this batch's mean ``w`` (training).

        Returns:
            ``[N, num_ws, w_dim]``.
        """
        w = normalize_2nd_moment(z)
        if self.embed is not None:
            c = check_labels(c, self.c_dim, "generator")
            w = ops.concatenate([w, normalize_2nd_moment(self.embed(c))], axis=-1)
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
            "c_dim": self.c_dim,
            "num_layers": self.num_layers,
            "lr_multiplier": self.lr_multiplier,
            "w_avg_beta": self.w_avg_beta,
        }


@keras.saving.register_keras_serializable(package="sfkeras")
class LabelMapping(keras.layers.Layer):
    """The discriminator's label mapping ``c [N, c_dim] -> cmap [N, cmap_dim]``.

    StyleGAN2-ADA's ``MappingNetwork(z_dim=0, num_ws=None, w_avg_beta=None)``: the
    one-hot ``c`` is embedded by the linear layer ``embed`` (``c_dim -> cmap_dim``),
    normalised by its second moment and passed through ``num_layers`` equalised dense
    layers (leaky ReLU, learning-rate multiplier ``lr_multiplier``); no broadcast, no
    tracked average. The discriminator projects its output features onto ``cmap``.

    Args:
        c_dim: classes of the labels.
        cmap_dim: size of the mapped label (and of every layer).
        num_layers: dense layers after the embedding (StyleGAN2-ADA's default 8).
        lr_multiplier: learning-rate multiplier of the dense layers.
    """

    def __init__(self, c_dim: int, cmap_dim: int, *, num_layers: int = 8,
                 lr_multiplier: float = 0.01, **kwargs):
        super().__init__(**kwargs)
        self.c_dim = c_dim
        self.cmap_dim = cmap_dim
        self.num_layers = num_layers
        self.lr_multiplier = lr_multiplier
        self.embed = EqualizedDense(cmap_dim, name="embed")
        self.dense_layers = dense_stack(cmap_dim, num_layers, lr_multiplier)

    def build(self, c_shape):
        self.embed.build(tuple(c_shape))
        for layer in self.dense_layers:
            layer.build((c_shape[0], self.cmap_dim))

    def call(self, c):
        """``c [N, c_dim]`` one-hot -> ``[N, cmap_dim]`` float32."""
        x = normalize_2nd_moment(self.embed(check_labels(c, self.c_dim, "discriminator")))
        for layer in self.dense_layers:
            x = layer(x)
        return x

    def compute_output_shape(self, c_shape):
        return (c_shape[0], self.cmap_dim)

    def get_config(self):
        return {**super().get_config(), "c_dim": self.c_dim, "cmap_dim": self.cmap_dim,
                "num_layers": self.num_layers, "lr_multiplier": self.lr_multiplier}
