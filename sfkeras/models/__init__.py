"""Keras models of the port: the Styleformer generator (and, beside it, the discriminator)."""

from sfkeras.models.generator import Generator, SynthesisNetwork, parameter_counts

__all__ = ["Generator", "SynthesisNetwork", "parameter_counts"]
