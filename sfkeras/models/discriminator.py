"""StyleGAN2's discriminator (StyleGAN2-ADA ``training.networks.Discriminator``).

Resolutions: the original builds a block at every resolution ``>= 8``, halving, and
ends in a 4x4 epilogue, for power-of-two images. Its code cannot build a 48x48
discriminator (STL-10): ``int(log2(48)) = 5`` gives blocks for 32, 16, 8 that never see
a 48-pixel image, and Styleformer does not publish the change it made. Here the same
rule (a block at every resolution ``>= 8``, halving) is applied to ``3 * 2**k`` images
too, so 48 -> 24 -> 12 -> 6 ends in a **6x6** epilogue; channels follow the original's
``min(channel_base // res, channel_max)`` at every resolution.
"""

from __future__ import annotations

import keras
from keras import ops

from sfkeras.config.discriminator import DiscriminatorConfig
from sfkeras.errors import ConfigError
from sfkeras.layers.discriminator import DiscriminatorBlock, DiscriminatorEpilogue
from sfkeras.layers.mapping import LabelMapping

#: Resolutions at which the epilogue may start (powers of two and 3 * 2**k images).
EPILOGUE_RESOLUTIONS = (4, 6)
#: Dense layers of a conditional discriminator's label mapping (StyleGAN2-ADA's default,
#: which Styleformer's ``train.py`` keeps).
LABEL_MAPPING_LAYERS = 8


def block_resolutions(resolution: int) -> list[int]:
    """Input resolutions of the discriminator blocks, highest first (``[32, 16, 8]`` for 32).

    Raises:
        ValueError: unless ``resolution`` is ``2**k >= 8`` or ``3 * 2**k >= 12``.
    """
    resolutions, res = [], resolution
    while res >= 8 and res % 2 == 0:
        resolutions.append(res)
        res //= 2
    if not resolutions or res not in EPILOGUE_RESOLUTIONS:
        raise ValueError(
            f"discriminator resolution {resolution} is not supported: halving must reach a "
            "4x4 or 6x6 epilogue after at least one block (2**k >= 8, e.g. 32, 64, 128, or "
            "3 * 2**k >= 12, e.g. 48)")
    return resolutions


@keras.saving.register_keras_serializable(package="sfkeras")
class Discriminator(keras.Model):
    """Images ``[N, H, W, img_channels]`` (float, about ``[-1, 1]``) and, for a
    conditional discriminator, one-hot labels ``c [N, c_dim]`` -> logits ``[N, 1]``.

    Blocks ``b{res}`` for every resolution of :func:`block_resolutions`, then the
    epilogue at the last (4 or 6). ``N`` must be a multiple of
    ``min(config.mbstd_group_size, N)``. A conditional discriminator maps ``c`` to
    ``cmap [N, cmap_dim]`` (:class:`~sfkeras.layers.mapping.LabelMapping`, ``mapping``;
    ``cmap_dim`` = the epilogue's channels, StyleGAN2-ADA's ``channels_dict[4]``) and
    the epilogue projects its features onto it.

    Args:
        resolution: image height = width.
        config: architecture and widths (:class:`DiscriminatorConfig`).
        img_channels: image channels.
        c_dim: classes of the labels, 0 for an unconditional discriminator.
    """

    def __init__(self, resolution: int, config: DiscriminatorConfig, img_channels: int = 3,
                 c_dim: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.resolution = resolution
        self.discriminator_config = config
        self.img_channels = img_channels
        self.c_dim = c_dim
        self.block_resolutions = block_resolutions(resolution)
        self.epilogue_resolution = self.block_resolutions[-1] // 2
        self.blocks = [
            DiscriminatorBlock(self.channels_at(res), self.channels_at(res // 2),
                               architecture=config.architecture, first=res == resolution,
                               conv_clamp=config.conv_clamp, name=f"b{res}")
            for res in self.block_resolutions
        ]
        self.cmap_dim = self.channels_at(self.epilogue_resolution) if c_dim else 0
        self.mapping = LabelMapping(c_dim, self.cmap_dim, num_layers=LABEL_MAPPING_LAYERS,
                                    name="mapping") if c_dim else None
        self.epilogue = DiscriminatorEpilogue(
            self.channels_at(self.epilogue_resolution), architecture=config.architecture,
            mbstd_group_size=config.mbstd_group_size, mbstd_channels=config.mbstd_channels,
            conv_clamp=config.conv_clamp, cmap_dim=self.cmap_dim,
            name=f"b{self.epilogue_resolution}")

    def channels_at(self, res: int) -> int:
        """Feature channels at resolution ``res``: ``min(channel_base // res, channel_max)``."""
        return min(self.discriminator_config.channel_base // res,
                   self.discriminator_config.channel_max)

    def input_layers(self) -> list[keras.layers.Layer]:
        """The blocks' layers in the order the original numbers them from the input
        (its ``first_layer_idx``, which Freeze-D counts): per block, highest resolution
        first, ``fromrgb`` (where the block has one), ``conv0``, ``conv1`` and ``skip``
        (``resnet``)."""
        return [layer for block in self.blocks for layer in block.layers_from_input()]

    def freeze_input_layers(self, count: int) -> None:
        """Freeze-D: make the first ``count`` :meth:`input_layers` non-trainable.

        Raises:
            ConfigError: (``train.freeze_d``) ``count`` exceeds the blocks' layers.
        """
        layers = self.input_layers()
        if count > len(layers):
            raise ConfigError("train.freeze_d", f"is {count}, but the discriminator's blocks "
                              f"have {len(layers)} layers (the epilogue is never frozen)")
        for layer in layers[:count]:
            layer.trainable = False

    def build(self, input_shape):
        batch, height, width, channels = input_shape
        if (height, width, channels) != (self.resolution, self.resolution, self.img_channels):
            raise ValueError(f"the discriminator takes [N, {self.resolution}, {self.resolution}, "
                             f"{self.img_channels}] images, got {tuple(input_shape)}")
        x_shape, img_shape = None, tuple(input_shape)
        for res, block in zip(self.block_resolutions, self.blocks, strict=True):
            block.build(x_shape, img_shape)
            half = res // 2
            x_shape = (batch, half, half, block.out_channels)
            img_shape = (batch, half, half, channels) if block.architecture == "skip" else None
        if self.mapping is not None:
            self.mapping.build((batch, self.c_dim))
        self.epilogue.build(x_shape, img_shape)

    def call(self, images, c=None):
        """``images [N, H, W, C]`` (and ``c [N, c_dim]``) -> logits ``[N, 1]``; an
        unconditional discriminator ignores ``c``."""
        x, img = None, ops.cast(images, self.compute_dtype)
        for block in self.blocks:
            x, img = block(x, img)
        cmap = None if self.mapping is None else self.mapping(c)
        return self.epilogue(x, img, cmap)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 1)

    def get_config(self):
        return {"name": self.name, "trainable": self.trainable, "resolution": self.resolution,
                "config": self.discriminator_config.to_dict(),
                "img_channels": self.img_channels, "c_dim": self.c_dim}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["config"] = DiscriminatorConfig.from_dict(config["config"], "discriminator")
        return cls(**config)
