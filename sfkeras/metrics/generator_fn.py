"""Load a saved generator as the plain function the evaluator calls.

A SavedModel folder written by :mod:`sfkeras.export` is read here (its ``generate``
signature ``z, truncation_psi -> uint8 images``, or else ``serving_default``,
``z -> uint8 images``; constant noise); every other source (``.keras``, run folder,
snapshot ``.pkl``) through :func:`sfkeras.loading.load_generator` (random noise, as the
original's metrics).
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
from collections.abc import Callable

import numpy as np

from sfkeras.backend import require_tensorflow


@dataclasses.dataclass(frozen=True)
class GeneratorFn:
    """A generator as :func:`~sfkeras.metrics.evaluate.evaluate_generator` calls it.

    Attributes:
        generate: latents float32 ``[N, z_dim]`` -> images NHWC (float in ~[-1, 1],
            or uint8).
        z_dim: latent size.
    """

    generate: Callable[[np.ndarray], object]
    z_dim: int

    def __call__(self, z: np.ndarray) -> np.ndarray:
        return np.asarray(self.generate(z))


def load_generator_fn(path: str | os.PathLike, truncation_psi: float = 1.0,
                      config=None) -> GeneratorFn:
    """Load a generator from a SavedModel folder or any source of
    :func:`sfkeras.loading.load_generator`.

    Args:
        path: a SavedModel folder with a ``generate`` (``z [N, z_dim], truncation_psi []
            -> images uint8``) or ``serving_default`` (``z -> images``) signature, or a
            ``.keras`` file, training run folder or network-snapshot ``.pkl``.
        truncation_psi: truncation applied by the generator (1: none). With only
            ``serving_default`` (no psi input) the exported truncation applies, and
            only 1 is accepted here.
        config: for a run folder, the configuration whose run to read.

    Raises:
        MissingFileError: ``path`` does not exist.
        ValueError: the source is none of these, or lacks the expected interface.
    """
    from sfkeras.loading import check_exists, is_saved_model, load_generator

    path = check_exists(path)
    if is_saved_model(path):
        return _load_saved_model(path, truncation_psi)
    return keras_generator_fn(load_generator(path, config), truncation_psi)


def keras_generator_fn(generator, truncation_psi: float = 1.0) -> GeneratorFn:
    """A generator model in memory (``G(z, truncation_psi=...)``, ``G.z_dim``) as a
    :class:`GeneratorFn`, with random noise as the original's metrics."""
    import keras

    return GeneratorFn(
        generate=lambda z: keras.ops.convert_to_numpy(generator(z, truncation_psi=truncation_psi)),
        z_dim=int(generator.z_dim),
    )


def _load_saved_model(path: pathlib.Path, truncation_psi: float) -> GeneratorFn:
    require_tensorflow(f"loading the SavedModel {path}")
    import tensorflow as tf

    loaded = tf.saved_model.load(os.fspath(path))
    name = next((n for n in ("generate", "serving_default") if n in loaded.signatures), None)
    if name is None:
        raise ValueError(f"{path}: the SavedModel has neither a 'generate' nor a "
                         "'serving_default' signature")
    signature = loaded.signatures[name]
    inputs = dict(signature.structured_input_signature[1])
    psi_inputs = {}
    if "truncation_psi" in inputs:
        psi_inputs["truncation_psi"] = tf.constant(truncation_psi, tf.float32)
    elif truncation_psi != 1.0:
        raise ValueError(f"{path}: signature '{name}' has no 'truncation_psi' input, so it "
                         f"runs as exported; cannot apply truncation_psi={truncation_psi}")
    z_names = [key for key in inputs if key != "truncation_psi"]
    if len(z_names) != 1 or inputs[z_names[0]].shape.rank != 2:
        raise ValueError(f"{path}: signature '{name}' must take one latent input "
                         f"[N, z_dim], got {inputs}")
    outputs = list(signature.structured_outputs)
    output = "images" if "images" in outputs else outputs[0]
    if len(outputs) != 1 and output != "images":
        raise ValueError(f"{path}: signature '{name}' must return 'images', got {outputs}")

    def generate(z: np.ndarray) -> np.ndarray:
        return signature(**{z_names[0]: tf.constant(z, tf.float32)}, **psi_inputs)[output].numpy()

    return GeneratorFn(generate=generate, z_dim=int(inputs[z_names[0]].shape[1]))
