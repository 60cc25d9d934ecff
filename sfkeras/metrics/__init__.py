"""GAN metrics with StyleGAN2-ADA's protocol: the FID Inception in Keras, FID, KID,
precision/recall, and the evaluation of a generator against a prepared data set.

Modules: :mod:`~sfkeras.metrics.inception` (the network, :func:`inception_features`),
:mod:`~sfkeras.metrics.inception_weights` (fetch, verify, convert, cache),
:mod:`~sfkeras.metrics.torchscript` (restricted TorchScript reader),
:mod:`~sfkeras.metrics.statistics` (feature statistics, the metrics),
:mod:`~sfkeras.metrics.tfgan` (TF-GAN's Frechet math without its package root),
:mod:`~sfkeras.metrics.protocols` (metric names), :mod:`~sfkeras.metrics.evaluate`
(:func:`evaluate_generator`), :mod:`~sfkeras.metrics.generator_fn` (loading a generator).
"""

from sfkeras.metrics.evaluate import RealImages, evaluate_generator
from sfkeras.metrics.generator_fn import GeneratorFn, load_generator_fn
from sfkeras.metrics.inception import inception_features
from sfkeras.metrics.inception_weights import InceptionWeightsError, load_inception_weights
from sfkeras.metrics.protocols import MetricSpec, parse_metric
from sfkeras.metrics.statistics import (
    FeatureStats,
    frechet_distance,
    kernel_distance,
    precision_recall,
)
from sfkeras.metrics.torchscript import TorchScriptError

__all__ = [
    "FeatureStats",
    "GeneratorFn",
    "InceptionWeightsError",
    "MetricSpec",
    "RealImages",
    "TorchScriptError",
    "evaluate_generator",
    "frechet_distance",
    "inception_features",
    "kernel_distance",
    "load_generator_fn",
    "load_inception_weights",
    "parse_metric",
    "precision_recall",
]
