"""Import of StyleGAN2-ADA synthesis weights (``SynthesisLayer``, ``ToRGBLayer``, blocks).

Name tables map the original parameter names (relative to a ``prefix`` such as
``"synthesis.b64."``) to the variables of :mod:`sfkeras.layers.stylegan2`. The
``resample_filter`` buffers are constants here and are ignored.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from sfkeras.convert.common import Target, assign_state, conv_kernel, transpose
from sfkeras.layers.stylegan2 import SynthesisBlock, SynthesisLayer, ToRGB


def is_resample_filter(name: str) -> bool:
    """Whether ``name`` is a ``resample_filter`` buffer (a constant, not a parameter)."""
    return name == "resample_filter" or name.endswith(".resample_filter")


def affine_table(layer, prefix: str) -> dict[str, Target]:
    """``{prefix}affine.weight/bias`` of a modulated layer's style affine."""
    return {
        f"{prefix}affine.weight": Target(layer.affine.kernel, transpose),
        f"{prefix}affine.bias": Target(layer.affine.bias),
    }


def synthesis_layer_table(layer: SynthesisLayer, prefix: str = "") -> dict[str, Target]:
    """Original names of one ``SynthesisLayer`` (``weight``, ``bias``, ``affine.*``, noise)."""
    table = {
        f"{prefix}weight": Target(layer.kernel, conv_kernel),
        f"{prefix}bias": Target(layer.bias),
        **affine_table(layer, prefix),
    }
    if layer.use_noise:
        table[f"{prefix}noise_const"] = Target(layer.noise_const)
        table[f"{prefix}noise_strength"] = Target(layer.noise_strength)
    return table


def torgb_table(layer: ToRGB, prefix: str = "") -> dict[str, Target]:
    """Original names of one ``ToRGBLayer``."""
    return {
        f"{prefix}weight": Target(layer.kernel, conv_kernel),
        f"{prefix}bias": Target(layer.bias),
        **affine_table(layer, prefix),
    }


def synthesis_block_table(block: SynthesisBlock, prefix: str = "") -> dict[str, Target]:
    """Original names of one ``SynthesisBlock`` (``conv0.*``, ``conv1.*``, ``torgb.*``)."""
    table = {
        **synthesis_layer_table(block.conv0, f"{prefix}conv0."),
        **synthesis_layer_table(block.conv1, f"{prefix}conv1."),
    }
    if block.torgb is not None:
        table.update(torgb_table(block.torgb, f"{prefix}torgb."))
    return table


def load_synthesis_block(block: SynthesisBlock, state: Mapping[str, np.ndarray]) -> None:
    """Assign an original ``SynthesisBlock`` state dict to a built ``block``.

    Raises:
        sfkeras.convert.common.WeightImportError: listing missing, unexpected and
            mis-shaped tensors; no variable is changed then.
    """
    assign_state(synthesis_block_table(block), state, ignore=is_resample_filter,
                 network="StyleGAN2 synthesis block")
