"""Keras layers of Styleformer and StyleGAN2 (``keras.ops`` only, any backend)."""

from sfkeras.layers.dense import EqualizedDense

__all__ = ["EqualizedDense"]
