"""Keras models of the port: the Styleformer generator and StyleGAN2's discriminator."""

from __future__ import annotations

from sfkeras.models.discriminator import Discriminator
from sfkeras.models.generator import Generator, SynthesisNetwork, parameter_counts

__all__ = ["Discriminator", "Generator", "SynthesisNetwork", "parameter_counts"]
