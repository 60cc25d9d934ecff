"""TF-GAN's metric math, loaded without TF-GAN's package root.

``import tensorflow_gan`` fails on TensorFlow >= 2.16 because the package root imports
its Estimator helpers (``tf.estimator`` was removed). The metric code itself,
``tensorflow_gan/python/eval/classifier_metrics.py``, needs only TensorFlow,
TF-Probability and its sibling ``eval_utils``. :func:`classifier_metrics` loads those two
files as modules of their own, with placeholder parent packages present only while
they load, so no ``tensorflow_gan.*`` entry is left behind in ``sys.modules``.
"""

from __future__ import annotations

import functools
import importlib.util
import pathlib
import sys
import types


@functools.cache
def classifier_metrics() -> types.ModuleType:
    """``tensorflow_gan.python.eval.classifier_metrics``, loaded on its own.

    Raises:
        ImportError: ``tensorflow-gan`` is not installed.
    """
    spec = importlib.util.find_spec("tensorflow_gan")
    if spec is None or spec.origin is None:
        raise ImportError("tensorflow-gan is not installed (pip install tensorflow-gan)")
    root = pathlib.Path(spec.origin).parent
    packages = {  # empty stand-ins: their __init__ files are not run
        "tensorflow_gan": root,
        "tensorflow_gan.python": root / "python",
        "tensorflow_gan.python.eval": root / "python" / "eval",
    }
    touched = [*packages, "tensorflow_gan.python.eval.eval_utils"]
    saved = {name: sys.modules.get(name) for name in touched}
    try:
        for name, folder in packages.items():
            package = types.ModuleType(name)
            package.__path__ = [str(folder)]
            sys.modules[name] = package
        return _load(
            "tensorflow_gan.python.eval.classifier_metrics",
            packages["tensorflow_gan.python.eval"] / "classifier_metrics.py",
        )
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


def _load(name: str, path: pathlib.Path) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def trace_sqrt_product(sigma1, sigma2) -> float:
    """``trace(sqrtm(sigma1 @ sigma2))`` for symmetric PSD matrices, by TF-GAN.

    TF-GAN computes it as ``trace(sqrtm(A sigma2 A))`` with ``A = sqrtm(sigma1)`` from
    SVDs of symmetric matrices, which is stable where ``sigma1 @ sigma2`` is singular
    (fewer samples than features).

    Args:
        sigma1, sigma2: float64 ``[D, D]`` covariance matrices.
    """
    import tensorflow as tf

    result = classifier_metrics().trace_sqrt_product(
        tf.constant(sigma1, tf.float64), tf.constant(sigma2, tf.float64)
    )
    return float(result.numpy())
