"""sfkeras: Styleformer (Park & Kim, CVPR 2022) in Keras 3 with a DVC pipeline.

The entry points most users need are importable from here; they load their modules
on first use, so ``import sfkeras`` stays light:

- :class:`Generator` / :class:`Discriminator` (``sfkeras.models``)
- :func:`import_official_generator` / :func:`import_official_discriminator`:
  original PyTorch state dicts -> Keras models (``sfkeras.convert``)
- :func:`inception_features`: FID Inception pool3 features (``sfkeras.metrics``)
- :func:`load_config`: a complete ``params.yaml`` -> validated config;
  :func:`config_from_params`: a preset plus partial overrides -> validated config

The networks run on any Keras 3 backend: a ``KERAS_BACKEND`` set before the first
``import keras`` (or ``import sfkeras``) is kept; where none is set and Keras is not
imported yet, sfkeras chooses TensorFlow, which the data pipeline, training and
export need (see :mod:`sfkeras.backend`).

On the CPU, TensorFlow computes with its oneDNN kernels: where ``TF_ENABLE_ONEDNN_OPTS``
is unset and TensorFlow is not imported yet, sfkeras sets it to ``1``. TensorFlow
itself turns them on only on CPUs with AVX-512 VNNI, BF16 or AMX; elsewhere (AVX2
machines) its own kernels train the default recipe 1.6x slower on two CPU replicas
(``benchmarks/PROFILE.md``). ``TF_ENABLE_ONEDNN_OPTS=0`` keeps TensorFlow's own
kernels; the results agree to rounding either way (the test suite runs in both modes).
"""

from __future__ import annotations

import importlib
import os
import sys

if "keras" not in sys.modules:  # once imported, Keras keeps the backend it chose
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
if "tensorflow" not in sys.modules:  # TensorFlow reads the kernel choice when imported
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")

__version__ = "0.1.0"

_EXPORTS = {
    "Config": "sfkeras.config",
    "ConfigError": "sfkeras.config",
    "Discriminator": "sfkeras.models.discriminator",
    "Generator": "sfkeras.models.generator",
    "config_from_params": "sfkeras.config",
    "import_official_discriminator": "sfkeras.convert.discriminator",
    "import_official_generator": "sfkeras.convert.generator",
    "inception_features": "sfkeras.metrics.inception",
    "load_config": "sfkeras.config",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'sfkeras' has no attribute '{name}'")
    return getattr(importlib.import_module(_EXPORTS[name]), name)


def __dir__() -> list[str]:
    return __all__
