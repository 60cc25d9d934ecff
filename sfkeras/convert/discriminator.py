"""Import of StyleGAN2-ADA discriminator state dicts (``training.networks.Discriminator``).

Original names: ``b{res}.{fromrgb,conv0,conv1,skip}.{weight,bias}`` per block,
``b4.{fromrgb,conv,fc,out}.{weight,bias}`` for the epilogue and, in a conditional D,
``mapping.{embed,fc0..fc7}.{weight,bias}`` for the label mapping; ``resample_filter``
buffers are constants here and ignored. The epilogue's ``fc`` weight ``[out, C*H*W]``
reads the NCHW-flattened map; it is permuted to this port's NHWC flattening.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from sfkeras.config.discriminator import DiscriminatorConfig
from sfkeras.convert.common import Target, assign_state, conv_kernel, dense_targets
from sfkeras.models.discriminator import Discriminator


def discriminator_config_from_official(
    config: Mapping[str, Any],
) -> tuple[int, DiscriminatorConfig]:
    """``(resolution, DiscriminatorConfig)`` from an original D's keyword arguments.

    Args:
        config: ``resolution``, ``architecture``, ``channel_base``, ``channel_max``,
            ``conv_clamp`` (``None`` for none) and ``mbstd_group_size`` (as in the
            reference fixtures' ``config``); ``mbstd_num_channels`` if not 1.
            ``c_dim`` and ``img_channels`` are read by
            :func:`import_official_discriminator`.
    """
    section = DiscriminatorConfig(
        architecture=config["architecture"],
        channel_base=int(config["channel_base"]),
        channel_max=int(config["channel_max"]),
        conv_clamp=None if config["conv_clamp"] is None else float(config["conv_clamp"]),
        mbstd_group_size=int(config["mbstd_group_size"]),
        mbstd_channels=int(config.get("mbstd_num_channels", 1)),
    )
    return int(config["resolution"]), section


def import_official_discriminator(config: Mapping[str, Any],
                                  state: Mapping[str, np.ndarray]) -> Discriminator:
    """Build a :class:`Discriminator` from an original config and load its state dict.

    Args:
        config: as for :func:`discriminator_config_from_official` (``img_channels``
            optional, default 3; ``c_dim`` optional, default 0).
        state: original parameter name -> array (original layouts).

    Raises:
        WeightImportError: missing, unexpected or mis-shaped tensors (nothing assigned).
    """
    resolution, section = discriminator_config_from_official(config)
    img_channels = int(config.get("img_channels", 3))
    model = Discriminator(resolution, section, img_channels=img_channels,
                          c_dim=int(config.get("c_dim", 0)))
    model.build((None, resolution, resolution, img_channels))
    assign_state(discriminator_table(model), state,
                 ignore=lambda name: name.endswith("resample_filter"), network="discriminator")
    return model


def discriminator_table(model: Discriminator) -> dict[str, Target]:
    """Original parameter name -> :class:`Target` for every variable of a built ``model``."""
    table: dict[str, Target] = {}
    if model.mapping is not None:
        table.update(dense_targets("mapping.embed", model.mapping.embed))
        for i, layer in enumerate(model.mapping.dense_layers):
            table.update(dense_targets(f"mapping.fc{i}", layer))
    for block in model.blocks:
        for conv in block.layers_from_input():
            table.update(_conv_targets(f"{block.name}.{conv.name}", conv))
    epilogue = model.epilogue
    if epilogue.fromrgb is not None:
        table.update(_conv_targets(f"{epilogue.name}.fromrgb", epilogue.fromrgb))
    table.update(_conv_targets(f"{epilogue.name}.conv", epilogue.conv))
    res = model.epilogue_resolution
    table[f"{epilogue.name}.fc.weight"] = Target(
        epilogue.fc.kernel, lambda w: _nchw_to_nhwc_flattened(w, res, epilogue.channels))
    table[f"{epilogue.name}.fc.bias"] = Target(epilogue.fc.bias)
    table.update(dense_targets(f"{epilogue.name}.out", epilogue.out))
    return table


def _conv_targets(prefix: str, conv) -> dict[str, Target]:
    targets = {f"{prefix}.weight": Target(conv.kernel, conv_kernel)}
    if conv.bias is not None:
        targets[f"{prefix}.bias"] = Target(conv.bias)
    return targets


def _nchw_to_nhwc_flattened(weight: np.ndarray, res: int, channels: int) -> np.ndarray:
    """Dense weight ``[out, C*res*res]`` (NCHW order) -> kernel ``[res*res*C, out]`` (NHWC)."""
    weight = np.asarray(weight)
    if weight.ndim != 2 or weight.shape[1] != channels * res * res:
        return weight.T  # wrong size: let assign_state report the shape mismatch
    out = weight.shape[0]
    return weight.reshape(out, channels, res, res).transpose(2, 3, 1, 0).reshape(-1, out)
