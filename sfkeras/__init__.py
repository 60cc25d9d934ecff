"""sfkeras: Styleformer (Park & Kim, CVPR 2022) in Keras 3 with a DVC pipeline.

The entry points most users need are importable from here; they load their modules
on first use, so ``import sfkeras`` stays light:

- :class:`Generator` / :class:`Discriminator` (``sfkeras.models``)
- :func:`import_official_generator` / :func:`import_official_discriminator`:
  original PyTorch state dicts -> Keras models (``sfkeras.convert``)
- :func:`inception_features`: FID Inception pool3 features (``sfkeras.metrics``)
- :func:`load_config`: a complete ``params.yaml`` -> validated config;
  :func:`config_from_params`: a preset plus partial overrides -> validated config

``import sfkeras`` changes no environment variable and imports neither Keras nor
TensorFlow. Its Keras classes (the networks and their layers; on TensorFlow also the
optimiser and the augmentation) are registered as soon as Keras is imported, before or
after sfkeras, so that
``keras.saving.load_model`` opens every ``.keras`` file sfkeras writes
(:mod:`sfkeras.registration`).

The networks run on any Keras 3 backend: Keras' own choice (``KERAS_BACKEND``, else
TensorFlow) is kept; the data pipeline, training and export need TensorFlow (see
:mod:`sfkeras.backend`). TensorFlow's CPU kernels are its own choice too unless you set
``TF_ENABLE_ONEDNN_OPTS`` before importing it; the ``sfkeras`` command line turns on
the faster oneDNN kernels where the variable is unset (:func:`sfkeras.cli.main`).
"""

from __future__ import annotations

import importlib

from sfkeras import registration

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


registration.install()  # last: with Keras imported already, this imports sfkeras.models
