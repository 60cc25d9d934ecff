"""A saved generator as the plain function the evaluator calls.

Every source goes through :func:`sfkeras.saved.loader.load_generator`: a Keras generator
runs with random noise (as the original's metrics); an exported SavedModel through its
``generate`` (or ``serving_default``) signature, with the constant noise it was
exported with.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable

import numpy as np

from sfkeras.saved.loader import ExportedGenerator, load_generator


@dataclasses.dataclass(frozen=True)
class GeneratorFn:
    """A generator as :func:`~sfkeras.metrics.evaluate.evaluate_generator` calls it.

    Attributes:
        generate: latents float32 ``[N, z_dim]`` (and for a conditional generator
            one-hot labels ``[N, c_dim]``) -> images NHWC (float in ~[-1, 1], or uint8).
        z_dim: latent size.
        c_dim: classes of a conditional generator, 0 when unconditional.
    """

    generate: Callable[..., object]
    z_dim: int
    c_dim: int = 0

    def __call__(self, z: np.ndarray, c: np.ndarray | None = None) -> np.ndarray:
        return np.asarray(self.generate(z) if c is None else self.generate(z, c))


def load_generator_fn(path: str | os.PathLike, truncation_psi: float = 1.0,
                      config=None) -> GeneratorFn:
    """Load a generator from any source of :func:`sfkeras.saved.loader.load_generator`.

    Args:
        path: a ``.keras`` file, training run folder, network-snapshot ``.pkl``, or a
            SavedModel folder with a ``generate`` (``z [N, z_dim], truncation_psi [] ->
            images uint8``) or ``serving_default`` (``z -> images``) signature.
        truncation_psi: truncation applied by the generator (1: none). With only
            ``serving_default`` (no psi input) the exported truncation applies, and
            only 1 is accepted here.
        config: for a run folder, the configuration whose run to read.

    Raises:
        MissingFileError: ``path`` does not exist.
        WeightImportError: the source is none of these, or lacks the expected interface.
    """
    return generator_fn(load_generator(path, config, saved_model=True), truncation_psi)


def generator_fn(generator, truncation_psi: float = 1.0) -> GeneratorFn:
    """A loaded generator (a Keras generator or an :class:`ExportedGenerator`) as a
    :class:`GeneratorFn` (see :func:`load_generator_fn`)."""
    if isinstance(generator, ExportedGenerator):
        return GeneratorFn(generate=generator.generate_fn(truncation_psi),
                           z_dim=generator.z_dim, c_dim=generator.c_dim)
    return keras_generator_fn(generator, truncation_psi)


def keras_generator_fn(generator, truncation_psi: float = 1.0) -> GeneratorFn:
    """A generator model in memory (``G(z, c, truncation_psi=...)``, ``G.z_dim``,
    ``G.c_dim``) as a :class:`GeneratorFn`, with random noise as the original's metrics."""
    import keras

    def generate(z, c=None):
        return keras.ops.convert_to_numpy(generator(z, c, truncation_psi=truncation_psi))

    return GeneratorFn(generate=generate, z_dim=int(generator.z_dim),
                       c_dim=int(generator.c_dim))
