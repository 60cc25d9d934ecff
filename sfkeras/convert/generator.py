"""Import of the original Styleformer generator's state dict into :class:`Generator`.

The original names every block ``synthesis.b{res}_{j}`` and keeps its tensors in
PyTorch layouts (dense weights ``[out, in]``); :func:`generator_table` is the one place
that maps those names onto this port's variables.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from sfkeras.config.base import ConfigError
from sfkeras.config.generator import GeneratorConfig
from sfkeras.convert.common import (
    Target,
    WeightImportError,
    assign_state,
    dense_targets,
    transpose,
)
from sfkeras.models.generator import Generator

#: The original's generator hyper-parameters; each is the GeneratorConfig field of that name.
OFFICIAL_CONFIG_NAMES = ("z_dim", "c_dim", "w_dim", "resolution", "num_layers", "hidden", "depth",
                         "minimum_head", "linformer", "mapping_layers", "conv_clamp")


def generator_config_from_official(config: Mapping[str, Any]) -> GeneratorConfig:
    """The :class:`GeneratorConfig` of an original generator.

    Args:
        config: the original's hyper-parameters under its names (see
            :data:`OFFICIAL_CONFIG_NAMES`); missing ones take our defaults. The
            original always starts at 8x8 with Linformer ``k = 256`` from 32x32 on.

    Raises:
        ConfigError: for unknown names or invalid values.
    """
    unknown = sorted(set(config) - set(OFFICIAL_CONFIG_NAMES))
    if unknown:
        raise ConfigError("generator", f"unknown original hyper-parameters {unknown}; "
                          f"known: {list(OFFICIAL_CONFIG_NAMES)}")
    return GeneratorConfig.from_dict(
        {**config, "start_resolution": 8, "linformer_dim": 256, "linformer_min_resolution": 32},
        "generator")


def generator_table(generator: Generator) -> dict[str, Target]:
    """Original state-dict name -> :class:`Target` for every parameter of ``generator``.

    A Linformer projection appears twice in the original (at block level and as
    ``enc.proj_weight``, the same tensor): both names map to the same variable.
    """
    table = {"mapping.w_avg": Target(generator.mapping.w_avg)}
    table.update(dense_targets("mapping.embed", generator.mapping.embed))
    for i, layer in enumerate(generator.mapping.dense_layers):
        table.update(dense_targets(f"mapping.fc{i}", layer))
    for stage in generator.synthesis.stages:
        for j, encoder in enumerate(stage.encoders):
            block = f"synthesis.b{stage.resolution}_{j}"
            enc = f"{block}.enc"
            table.update({
                f"{enc}.q_weight": Target(encoder.query_kernel, transpose),
                f"{enc}.k_weight": Target(encoder.key_kernel, transpose),
                f"{enc}.v_weight": Target(encoder.value_kernel, transpose),
                f"{enc}.w_weight": Target(encoder.output_kernel, transpose),
                f"{enc}.u_weight": Target(encoder.skip_kernel, transpose),
                f"{enc}.noise_const": Target(encoder.noise_const),
                f"{enc}.noise_strength": Target(encoder.noise_strength),
                f"{enc}.bias": Target(encoder.bias),
                f"{enc}.affine1.weight": Target(encoder.affine.kernel, transpose),
                f"{enc}.affine1.bias": Target(encoder.affine.bias),
            })
            if encoder.token_projection is not None:
                table[f"{block}.proj_weight"] = Target(encoder.token_projection)
                table[f"{enc}.proj_weight"] = Target(encoder.token_projection)
            if j == 0:
                table[f"{block}.pos_embedding"] = Target(stage.pos_embedding)
            if j == 0 and stage.has_const:
                table[f"{block}.const"] = Target(stage.const)
        torgb = f"synthesis.b{stage.resolution}_{stage.num_layers - 1}.torgb"
        table.update({
            f"{torgb}.weight": Target(stage.torgb.kernel, transpose),
            f"{torgb}.bias": Target(stage.torgb.bias),
            f"{torgb}.affine.weight": Target(stage.torgb.affine.kernel, transpose),
            f"{torgb}.affine.bias": Target(stage.torgb.affine.bias),
        })
    return table


def _check_shared_projections(state: Mapping[str, np.ndarray]) -> None:
    """Both copies of every Linformer projection must hold the same values."""
    for name in state:
        if name.endswith(".enc.proj_weight"):
            block_name = name.replace(".enc.proj_weight", ".proj_weight")
            if block_name in state and not np.array_equal(state[name], state[block_name]):
                raise WeightImportError(f"{name} and {block_name} are one tensor in the "
                                        "original but differ in this state dict")


def import_official_generator(config: Mapping[str, Any],
                              state: Mapping[str, np.ndarray]) -> Generator:
    """Build a :class:`Generator` holding the weights of an original one.

    Args:
        config: the original's hyper-parameters (see :func:`generator_config_from_official`).
        state: original state-dict name -> array (``resample_filter`` buffers ignored).

    Raises:
        WeightImportError: listing missing, unexpected and mis-shaped tensors.
    """
    generator = Generator(generator_config_from_official(config))
    _check_shared_projections(state)
    assign_state(generator_table(generator), state,
                 ignore=lambda name: name.endswith(".resample_filter"), network="generator")
    return generator
