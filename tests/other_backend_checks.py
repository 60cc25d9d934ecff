"""Checks that only make sense on a backend other than TensorFlow.

Run by ``tests/test_backends.py`` under JAX and PyTorch (not collected on its own): a
``.keras`` generator saved on TensorFlow (the folder ``$SFKERAS_TF_GENERATOR``) gives the
same images here, and the TensorFlow-only parts refuse with one clear error.
"""

from __future__ import annotations

import importlib
import json
import os
import pathlib

import keras
import numpy as np
import pytest
from conftest import to_numpy

import sfkeras
from sfkeras import cli
from sfkeras.errors import BackendError
from sfkeras.saved.loader import load_generator

pytestmark = pytest.mark.cross_backend
TOLERANCE = 1e-4


#: The variants test_backends.py saves (Styleformer and the Appendix B switches).
VARIANTS = ("", "-post_ln", "-no_qk_demod")


@pytest.fixture(scope="module", params=VARIANTS)
def saved(request):
    folder = os.environ.get("SFKERAS_TF_GENERATOR")
    if not folder:
        pytest.skip("SFKERAS_TF_GENERATOR is unset (tests/test_backends.py sets it)")
    folder = pathlib.Path(folder)
    assert json.loads((folder / "variants.json").read_text()) == list(VARIANTS)
    with np.load(folder / f"expected{request.param}.npz") as expected:
        return load_generator(folder / f"generator{request.param}.keras"), dict(expected)


def test_import_sfkeras_keeps_the_chosen_backend():
    assert sfkeras.__version__
    assert keras.backend.backend() == os.environ["KERAS_BACKEND"] != "tensorflow"


def test_same_images_for_the_same_z(saved):
    generator, expected = saved
    images = to_numpy(generator(expected["z"], noise_mode="const"))
    np.testing.assert_allclose(images, expected["images"], rtol=0, atol=TOLERANCE)


def test_same_truncated_images(saved):
    generator, expected = saved
    images = to_numpy(generator(expected["z"], truncation_psi=0.7, noise_mode="const"))
    np.testing.assert_allclose(images, expected["images_psi"], rtol=0, atol=TOLERANCE)


@pytest.mark.parametrize("package", ["sfkeras.training", "sfkeras.data"])
def test_tensorflow_only_packages_refuse_to_import(package):
    with pytest.raises(BackendError, match="runs on TensorFlow only.*KERAS_BACKEND=tensorflow"):
        importlib.import_module(package)


def test_export_refuses_before_reading_anything(tmp_path):
    from sfkeras.export import export_generator

    with pytest.raises(BackendError, match="export"):
        export_generator(tmp_path / "absent.keras", tmp_path / "out")


def test_command_line_prints_one_line_and_exits_9(capsys):
    assert cli.main(["train"]) == BackendError.exit_code == 9
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("sfkeras: backend error: training (sfkeras.training) runs on "
                               f"TensorFlow only, but Keras runs on '{keras.backend.backend()}'")
