"""Keras layers of Styleformer and StyleGAN2 (``keras.ops`` only, any backend)."""

from sfkeras.layers.attention import ModulatedEncoderLayer
from sfkeras.layers.conv import EqualizedConv2D
from sfkeras.layers.dense import EqualizedDense
from sfkeras.layers.discriminator import DiscriminatorBlock, DiscriminatorEpilogue, MinibatchStdDev
from sfkeras.layers.mapping import LabelMapping, MappingNetwork
from sfkeras.layers.stage import BlockOutput
from sfkeras.layers.styleformer_stage import StyleformerStage
from sfkeras.layers.stylegan2 import StyleGAN2Stage, SynthesisBlock, SynthesisLayer, ToRGB
from sfkeras.layers.torgb import DemodulatedToRGB

__all__ = [
    "BlockOutput",
    "DemodulatedToRGB",
    "DiscriminatorBlock",
    "DiscriminatorEpilogue",
    "EqualizedConv2D",
    "EqualizedDense",
    "LabelMapping",
    "MappingNetwork",
    "MinibatchStdDev",
    "ModulatedEncoderLayer",
    "StyleGAN2Stage",
    "StyleformerStage",
    "SynthesisBlock",
    "SynthesisLayer",
    "ToRGB",
]
