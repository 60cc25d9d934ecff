"""StyleGAN2's discriminator layers: minibatch standard deviation, blocks, epilogue (NHWC).

Semantics follow StyleGAN2-ADA's ``training/networks.py`` (``DiscriminatorBlock``,
``MinibatchStdLayer``, ``DiscriminatorEpilogue``) in float32, which is what Styleformer
runs (its copy of these classes defaults to ``force_fp32=True``, so the float16 blocks
that ``num_fp16_res`` requests never run in half precision). Where ``conv_clamp``
applies, exactly as in the original: every block's ``fromrgb``, ``conv0`` and ``conv1``
and the epilogue's ``conv`` are clamped; the residual ``skip`` convolution, the
epilogue's ``fromrgb`` (``skip`` architecture) and the dense layers are not.
"""

from __future__ import annotations

import math
from typing import Literal

import keras
from keras import ops

from sfkeras.layers.conv import EqualizedConv2D
from sfkeras.layers.dense import EqualizedDense
from sfkeras.ops import downsample_2d

Architecture = Literal["orig", "skip", "resnet"]
ARCHITECTURES = ("orig", "skip", "resnet")


def _check_architecture(architecture: str) -> None:
    if architecture not in ARCHITECTURES:
        raise ValueError(f"architecture must be one of {ARCHITECTURES}, got {architecture!r}")


@keras.saving.register_keras_serializable(package="sfkeras")
class MinibatchStdDev(keras.layers.Layer):
    """Appends the minibatch standard deviation as extra feature maps.

    The batch of ``N`` is split into ``N / G`` groups of ``G = min(group_size, N)``
    samples, sample ``i`` belonging to group ``i mod (N / G)`` (the original's
    ``reshape(G, -1, ...)``; ``N`` is the batch this layer sees, i.e. the per-replica
    batch under ``tf.distribute``). The channels are split into ``num_channels`` sets;
    for each group and set, the standard deviation over the group (``sqrt(var + 1e-8)``)
    is averaged over pixels and the set's channels and broadcast to a feature map.

    Shapes: ``x [N, H, W, C] -> [N, H, W, C + num_channels]``; ``N`` must be a multiple
    of ``G`` and ``C`` of ``num_channels``.

    Args:
        group_size: samples per group (capped at the batch size).
        num_channels: number of appended feature maps.
    """

    def __init__(self, group_size: int, num_channels: int = 1, **kwargs):
        super().__init__(**kwargs)
        self.group_size = group_size
        self.num_channels = num_channels

    def call(self, x):
        batch, height, width, channels = x.shape
        if channels % self.num_channels:
            raise ValueError(f"minibatch stddev: {channels} channels are not divisible into "
                             f"{self.num_channels} sets")
        if batch is None:
            group = ops.minimum(self.group_size, ops.shape(x)[0])
        else:
            group = min(self.group_size, batch)
            if batch % group:
                raise ValueError(
                    f"minibatch stddev: the batch of {batch} is not divisible by the group size "
                    f"{group} (min(mbstd_group_size={self.group_size}, batch)); the original "
                    "requires the same: use a (per-replica) batch that is a multiple of it")
        per_set = channels // self.num_channels
        y = ops.reshape(x, (group, -1, height, width, self.num_channels, per_set))
        y = y - ops.mean(y, axis=0)
        y = ops.sqrt(ops.mean(ops.square(y), axis=0) + 1e-8)  # [n, H, W, F, c]
        y = ops.mean(y, axis=(1, 2, 4))  # [n, F]
        y = ops.tile(y[:, None, None, :], (group, height, width, 1))  # [N, H, W, F]
        return ops.concatenate([x, ops.cast(y, x.dtype)], axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], input_shape[-1] + self.num_channels)

    def get_config(self):
        return {**super().get_config(), "group_size": self.group_size,
                "num_channels": self.num_channels}


@keras.saving.register_keras_serializable(package="sfkeras")
class DiscriminatorBlock(keras.layers.Layer):
    """One resolution of the discriminator: ``[N, R, R, *] -> [N, R/2, R/2, out_channels]``.

    ``fromrgb`` (1x1 conv, lrelu) exists in the first block and, for ``skip``, in every
    block, where its output is added to ``x``. Then ``conv0`` (3x3, lrelu) and ``conv1``
    (3x3, lrelu, [1,3,3,1] down-sampling). ``resnet`` adds a 1x1 down-sampling ``skip``
    conv without bias or activation; both branches carry gain ``sqrt(0.5)``.

    Call: ``block(x, img) -> (x, img)`` with ``x [N, R, R, tmp_channels]`` (``None`` in
    the first block) and ``img [N, R, R, img_channels]``. The returned ``img`` is the
    image down-sampled to ``R/2`` for ``skip`` and ``None`` otherwise (later blocks of
    ``orig``/``resnet`` get ``img=None``).

    Args:
        tmp_channels: channels at resolution ``R``.
        out_channels: channels at ``R/2``.
        architecture: ``"orig"``, ``"skip"`` or ``"resnet"``.
        first: whether this is the first (highest-resolution) block.
        conv_clamp: clamp of ``fromrgb``, ``conv0`` and ``conv1``; ``None`` for none.
    """

    def __init__(self, tmp_channels: int, out_channels: int, *, architecture: Architecture,
                 first: bool, conv_clamp: float | None = None, **kwargs):
        super().__init__(**kwargs)
        _check_architecture(architecture)
        self.tmp_channels = tmp_channels
        self.out_channels = out_channels
        self.architecture = architecture
        self.first = first
        self.conv_clamp = conv_clamp
        self.fromrgb = None
        if first or architecture == "skip":
            self.fromrgb = EqualizedConv2D(tmp_channels, 1, activation="lrelu",
                                           conv_clamp=conv_clamp, name="fromrgb")
        branch_gain = math.sqrt(0.5) if architecture == "resnet" else 1.0
        self.conv0 = EqualizedConv2D(tmp_channels, 3, activation="lrelu",
                                     conv_clamp=conv_clamp, name="conv0")
        self.conv1 = EqualizedConv2D(out_channels, 3, activation="lrelu", down=2,
                                     gain=branch_gain, conv_clamp=conv_clamp, name="conv1")
        self.skip = None
        if architecture == "resnet":
            self.skip = EqualizedConv2D(out_channels, 1, use_bias=False, down=2,
                                        gain=branch_gain, name="skip")

    def layers_from_input(self) -> list[EqualizedConv2D]:
        """Its layers in the order the original numbers them (``fromrgb`` where it has
        one, ``conv0``, ``conv1``, ``skip`` for ``resnet``)."""
        return [layer for layer in (self.fromrgb, self.conv0, self.conv1, self.skip)
                if layer is not None]

    def build(self, x_shape, img_shape=None):
        if self.fromrgb is not None:
            self.fromrgb.build(img_shape)
            x_shape = self.fromrgb.compute_output_shape(img_shape)
        self.conv0.build(x_shape)
        self.conv1.build(x_shape)
        if self.skip is not None:
            self.skip.build(x_shape)

    def call(self, x, img=None):
        if self.fromrgb is not None:
            y = self.fromrgb(img)
            x = y if x is None else x + y
            img = downsample_2d(img) if self.architecture == "skip" else None
        if self.skip is not None:
            return self.skip(x) + self.conv1(self.conv0(x)), img
        return self.conv1(self.conv0(x)), img

    def get_config(self):
        return {**super().get_config(), "tmp_channels": self.tmp_channels,
                "out_channels": self.out_channels, "architecture": self.architecture,
                "first": self.first, "conv_clamp": self.conv_clamp}


@keras.saving.register_keras_serializable(package="sfkeras")
class DiscriminatorEpilogue(keras.layers.Layer):
    """Last resolution: ``[N, R, R, channels] -> [N, 1]`` logits.

    ``skip`` first adds ``fromrgb(img)`` (not clamped). Then minibatch stddev (unless
    ``mbstd_channels == 0``), ``conv`` (3x3, lrelu, clamped), ``fc`` (dense on the
    flattened ``[R, R, channels]`` map, lrelu) and ``out`` (dense, linear): to 1, or for
    a conditional discriminator to ``cmap_dim`` features, projected onto the mapped
    label, ``sum(out * cmap, axis=1) / sqrt(cmap_dim)``.

    The flattening is row-major NHWC (``h, w, c``); the original flattens NCHW, so its
    ``fc`` weight is permuted on import (no transposes at run time).

    Call: ``epilogue(x, img, cmap)`` with ``img [N, R, R, img_channels]`` for ``skip``,
    else ``None``, and ``cmap [N, cmap_dim]`` when ``cmap_dim > 0``.

    Args:
        channels: channels at resolution ``R``.
        architecture: ``"orig"``, ``"skip"`` or ``"resnet"``.
        mbstd_group_size: minibatch-stddev group size.
        mbstd_channels: minibatch-stddev feature maps, 0 to disable the layer.
        conv_clamp: clamp of ``conv``; ``None`` for none.
        cmap_dim: size of the mapped label, 0 for an unconditional discriminator.
    """

    def __init__(self, channels: int, *, architecture: Architecture, mbstd_group_size: int,
                 mbstd_channels: int = 1, conv_clamp: float | None = None, cmap_dim: int = 0,
                 **kwargs):
        super().__init__(**kwargs)
        _check_architecture(architecture)
        self.channels = channels
        self.architecture = architecture
        self.mbstd_group_size = mbstd_group_size
        self.mbstd_channels = mbstd_channels
        self.conv_clamp = conv_clamp
        self.cmap_dim = cmap_dim
        self.fromrgb = None
        if architecture == "skip":
            self.fromrgb = EqualizedConv2D(channels, 1, activation="lrelu", name="fromrgb")
        self.mbstd = None
        if mbstd_channels > 0:
            self.mbstd = MinibatchStdDev(mbstd_group_size, mbstd_channels, name="mbstd")
        self.conv = EqualizedConv2D(channels, 3, activation="lrelu", conv_clamp=conv_clamp,
                                    name="conv")
        self.fc = EqualizedDense(channels, activation="lrelu", name="fc")
        self.out = EqualizedDense(cmap_dim or 1, name="out")

    def build(self, x_shape, img_shape=None):
        batch, height, width, _ = x_shape
        if self.fromrgb is not None:
            self.fromrgb.build(img_shape)
        if self.mbstd is not None:
            self.mbstd.build(x_shape)
        conv_shape = (batch, height, width, self.channels + self.mbstd_channels)
        self.conv.build(conv_shape)
        self.fc.build((batch, height * width * self.channels))
        self.out.build((batch, self.channels))

    def call(self, x, img=None, cmap=None):
        if self.fromrgb is not None:
            x = x + self.fromrgb(img)
        if self.mbstd is not None:
            x = self.mbstd(x)
        x = self.conv(x)
        _, height, width, channels = x.shape
        x = self.out(self.fc(ops.reshape(x, (-1, height * width * channels))))
        if self.cmap_dim:
            x = ops.sum(x * ops.cast(cmap, x.dtype), axis=1, keepdims=True) * (
                1 / math.sqrt(self.cmap_dim))
        return x

    def get_config(self):
        return {**super().get_config(), "channels": self.channels,
                "architecture": self.architecture, "mbstd_group_size": self.mbstd_group_size,
                "mbstd_channels": self.mbstd_channels, "conv_clamp": self.conv_clamp,
                "cmap_dim": self.cmap_dim}
