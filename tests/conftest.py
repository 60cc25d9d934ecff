"""Shared pytest fixtures: the reference fixtures folder and small helpers.

Tests run on the Keras backend ``KERAS_BACKEND`` names (TensorFlow by default);
``tests/test_backends.py`` reruns the network parity files under JAX and PyTorch.
Tests marked ``tensorflow`` (``tf.function``, ``tf.GradientTape``) skip on the others.
"""

from __future__ import annotations

import os
import pathlib

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# The suite runs on the command line's kernel default (sfkeras.cli.choose_kernels: oneDNN)
# where TF_ENABLE_ONEDNN_OPTS is unset; TensorFlow reads it once, when imported, so this
# comes before any import that may load TensorFlow. CI sets it to 0 and to 1 explicitly.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
#: ``$SFKERAS_FIXTURES`` where they travel without ``../shared`` (``benchmarks/gpu_check.sh``).
FIXTURES = pathlib.Path(
    os.environ.get("SFKERAS_FIXTURES") or REPO_ROOT.parent / "shared" / "fixtures" / "official")


def load_fixture(name: str) -> dict[str, np.ndarray]:
    """Load ``../shared/fixtures/official/<name>.npz`` or skip the calling test."""
    path = FIXTURES / f"{name}.npz"
    if not path.exists():
        pytest.skip(f"reference fixture {path} is absent (needs ../shared beside the repo "
                    "or $SFKERAS_FIXTURES)")
    with np.load(path) as data:
        return {key: data[key] for key in data.files}


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("tensorflow") is None:
        return
    import keras

    if keras.backend.backend() != "tensorflow":
        pytest.skip(f"needs the TensorFlow backend (Keras runs on {keras.backend.backend()})")


def to_numpy(x) -> np.ndarray:
    """A backend tensor (a PyTorch one on a GPU or needing gradients too) as NumPy."""
    import keras

    return keras.ops.convert_to_numpy(x)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)
