"""Discriminator hyper-parameters (``discriminator:`` in ``params.yaml``)."""

from __future__ import annotations

import dataclasses
from typing import Literal

from sfkeras.config.base import Section


@dataclasses.dataclass(frozen=True)
class DiscriminatorConfig(Section):
    """StyleGAN2's discriminator; its resolution is the generator's.

    Attributes:
        architecture: ``orig`` (CIFAR-10 setting), ``skip`` or ``resnet`` (default).
        channel_base: channels at resolution r are ``min(channel_base // r, channel_max)``.
        channel_max: upper bound on channels.
        conv_clamp: clamp of conv outputs, ``null`` for none.
        mbstd_group_size: minibatch-stddev group (``min`` with the per-replica batch).
        mbstd_channels: minibatch-stddev feature channels (0 disables the layer).
    """

    architecture: Literal["orig", "skip", "resnet"] = "resnet"
    channel_base: int = 32768
    channel_max: int = 512
    conv_clamp: float | None = 256.0
    mbstd_group_size: int = 4
    mbstd_channels: int = 1

    def validate(self) -> None:
        for name in ("channel_base", "channel_max", "mbstd_group_size"):
            if getattr(self, name) < 1:
                self.fail(name, "must be a positive integer")
        if self.mbstd_channels < 0:
            self.fail("mbstd_channels", "must be >= 0 (0 disables minibatch stddev)")
