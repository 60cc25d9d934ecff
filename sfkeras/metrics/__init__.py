"""GAN metrics with StyleGAN2-ADA's protocol: the FID Inception in Keras, FID, KID,
precision/recall, and the evaluation of a generator against a prepared data set.

Modules: :mod:`~sfkeras.metrics.inception` (the network, :func:`inception_features`),
:mod:`~sfkeras.metrics.inception_weights` (fetch, verify, convert, cache),
:mod:`~sfkeras.metrics.torchscript` (restricted TorchScript reader),
:mod:`~sfkeras.metrics.statistics` (feature statistics, the metrics),
:mod:`~sfkeras.metrics.tfgan` (TF-GAN's Frechet math without its package root),
:mod:`~sfkeras.metrics.evaluate` (:func:`evaluate_generator`),
:mod:`~sfkeras.metrics.generator_fn` (loading a generator). The metric names and the
protocols they stand for are configuration (:mod:`sfkeras.config.metric_names`).

The names below are imported on first use, so that light modules load without
TensorFlow.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "FeatureStats": "statistics",
    "GeneratorFn": "generator_fn",
    "InceptionWeightsError": "inception_weights",
    "RealImages": "evaluate",
    "TorchScriptError": "torchscript",
    "evaluate_generator": "evaluate",
    "frechet_distance": "statistics",
    "inception_features": "inception",
    "kernel_distance": "statistics",
    "load_generator_fn": "generator_fn",
    "load_inception_weights": "inception_weights",
    "precision_recall": "statistics",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'sfkeras.metrics' has no attribute '{name}'")
    return getattr(importlib.import_module(f"sfkeras.metrics.{_EXPORTS[name]}"), name)


def __dir__() -> list[str]:
    return __all__
