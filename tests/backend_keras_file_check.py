"""A ``.keras`` generator saved on TensorFlow gives the same images on this backend.

Run by ``tests/test_backends.py`` under JAX and PyTorch, which points
``SFKERAS_TF_GENERATOR`` at the folder its TensorFlow run wrote.
"""

from __future__ import annotations

import os
import pathlib

import numpy as np
import pytest
from conftest import to_numpy

from sfkeras.models import load_generator

TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def saved():
    folder = os.environ.get("SFKERAS_TF_GENERATOR")
    if not folder:
        pytest.skip("SFKERAS_TF_GENERATOR is unset (tests/test_backends.py sets it)")
    folder = pathlib.Path(folder)
    with np.load(folder / "expected.npz") as expected:
        return load_generator(folder / "generator.keras"), dict(expected)


def test_same_images_for_the_same_z(saved):
    generator, expected = saved
    images = to_numpy(generator(expected["z"], noise_mode="const"))
    np.testing.assert_allclose(images, expected["images"], rtol=0, atol=TOLERANCE)


def test_same_truncated_images(saved):
    generator, expected = saved
    images = to_numpy(generator(expected["z"], truncation_psi=0.7, noise_mode="const"))
    np.testing.assert_allclose(images, expected["images_psi"], rtol=0, atol=TOLERANCE)
