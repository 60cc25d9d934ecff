"""Keras layers of Styleformer and StyleGAN2 (``keras.ops`` only, any backend)."""

from sfkeras.layers.attention import ModulatedEncoderLayer
from sfkeras.layers.dense import EqualizedDense
from sfkeras.layers.mapping import MappingNetwork
from sfkeras.layers.styleformer_stage import BlockOutput, StyleformerStage
from sfkeras.layers.torgb import DemodulatedToRGB

__all__ = [
    "BlockOutput",
    "DemodulatedToRGB",
    "EqualizedDense",
    "MappingNetwork",
    "ModulatedEncoderLayer",
    "StyleformerStage",
]
