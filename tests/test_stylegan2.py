"""StyleGAN2 synthesis layers: modulated convolution, noise, ToRGB, block parity and import."""

import json

import keras
import numpy as np
import pytest
from conftest import load_fixture, to_numpy

from sfkeras.convert.common import WeightImportError
from sfkeras.convert.stylegan2 import load_synthesis_block, synthesis_block_table
from sfkeras.layers.stylegan2 import (
    SynthesisBlock,
    SynthesisLayer,
    ToRGB,
    modulated_conv2d,
)

W_DIM = 8


def reference_modconv_same(x, kernel, styles, demodulate):
    """NumPy modulated 'same' correlation, one sample at a time."""
    kh, kw, _, out = kernel.shape
    n, h, w, _ = x.shape
    pad = np.pad(x, ((0, 0), (kh // 2, kh // 2), (kw // 2, kw // 2), (0, 0)))
    y = np.zeros((n, h, w, out))
    for i in range(n):
        wk = kernel * styles[i][None, None, :, None]
        if demodulate:
            wk = wk / np.sqrt((wk**2).sum(axis=(0, 1, 2)) + 1e-8)
        for r in range(h):
            for c in range(w):
                y[i, r, c] = np.einsum("hwi,hwio->o", pad[i, r : r + kh, c : c + kw], wk)
    return y


@pytest.mark.platform
@pytest.mark.parametrize("demodulate", [True, False])
@pytest.mark.parametrize("fused", [True, False])
def test_modulated_conv2d_matches_reference(rng, demodulate, fused):
    x = rng.standard_normal((2, 5, 5, 3)).astype("float32")
    kernel = rng.standard_normal((3, 3, 3, 4)).astype("float32")
    styles = rng.standard_normal((2, 3)).astype("float32")
    got = modulated_conv2d(x, kernel, styles, demodulate=demodulate, fused=fused)
    want = reference_modconv_same(x, kernel, styles, demodulate)
    np.testing.assert_allclose(to_numpy(got), want, atol=1e-4)


@pytest.mark.parametrize("up", [1, 2])
@pytest.mark.parametrize("kernel_size", [1, 3])
def test_fused_and_unfused_forms_agree(rng, up, kernel_size):
    x = rng.standard_normal((3, 4, 4, 5)).astype("float32")
    kernel = rng.standard_normal((kernel_size, kernel_size, 5, 6)).astype("float32")
    styles = rng.standard_normal((3, 5)).astype("float32")
    fused = modulated_conv2d(x, kernel, styles, up=up, fused=True)
    unfused = modulated_conv2d(x, kernel, styles, up=up, fused=False)
    assert fused.shape == (3, 4 * up, 4 * up, 6)
    np.testing.assert_allclose(to_numpy(fused), to_numpy(unfused), atol=1e-5)


def test_demodulation_normalises_output_channels(rng):
    # A centred 1x1 kernel: every output is a unit-norm combination of the inputs.
    x = rng.standard_normal((1, 1, 1, 4)).astype("float32")
    kernel = rng.standard_normal((1, 1, 4, 2)).astype("float32") * 10.0
    styles = rng.standard_normal((1, 4)).astype("float32")
    y = to_numpy(modulated_conv2d(x, kernel, styles))[0, 0, 0]
    weights = kernel[0, 0] * styles[0][:, None]
    np.testing.assert_allclose(y, x[0, 0, 0] @ (weights / np.linalg.norm(weights, axis=0)),
                               rtol=1e-5)


def test_modulated_conv2d_rejects_bad_arguments(rng):
    x = np.zeros((1, 4, 4, 2), "float32")
    with pytest.raises(ValueError, match="up must be 1 or 2"):
        modulated_conv2d(x, np.zeros((3, 3, 2, 2), "float32"), np.ones((1, 2), "float32"), up=4)


def _layer(rng, **kwargs):
    layer = SynthesisLayer(4, 8, conv_clamp=256.0, seed=1, **kwargs)
    x = rng.standard_normal((2, 8 // layer.up, 8 // layer.up, 3)).astype("float32")
    w = rng.standard_normal((2, W_DIM)).astype("float32")
    layer.build(x.shape, w.shape)
    return layer, x, w


def test_synthesis_layer_noise_modes(rng):
    layer, x, w = _layer(rng)
    layer.noise_strength.assign(0.5)
    const = to_numpy(layer(x, w, noise_mode="const"))
    none = to_numpy(layer(x, w, noise_mode="none"))
    random_a = to_numpy(layer(x, w, noise_mode="random"))
    random_b = to_numpy(layer(x, w, noise_mode="random"))
    assert const.shape == (2, 8, 8, 4)
    np.testing.assert_array_equal(const, to_numpy(layer(x, w, noise_mode="const")))
    assert not np.allclose(const, none) and not np.allclose(random_a, random_b)
    layer.noise_strength.assign(0.0)
    np.testing.assert_allclose(to_numpy(layer(x, w, noise_mode="random")), none, atol=1e-6)
    with pytest.raises(ValueError, match="noise_mode"):
        layer(x, w, noise_mode="fixed")


def test_synthesis_layer_bias_act_gain_and_clamp(rng):
    layer, x, w = _layer(rng, use_noise=False)
    pre = to_numpy(modulated_conv2d(x, layer.kernel, layer.affine(w)))
    layer.bias.assign(np.linspace(-1, 1, 4).astype("float32"))
    z = pre + to_numpy(layer.bias)
    want = np.clip(np.where(z > 0, z, 0.2 * z) * np.sqrt(2), -256, 256)
    np.testing.assert_allclose(to_numpy(layer(x, w)), want, atol=1e-5)
    layer.conv_clamp = 0.1
    assert np.abs(to_numpy(layer(x, w))).max() <= 0.1 + 1e-7


def test_synthesis_layer_up_samples(rng):
    layer, x, w = _layer(rng, up=2)
    assert x.shape[1] == 4
    assert layer(x, w).shape == (2, 8, 8, 4)


def test_torgb_is_unnormalised_modulated_1x1_plus_bias(rng):
    layer = ToRGB(3, conv_clamp=256.0)
    x = rng.standard_normal((2, 4, 4, 5)).astype("float32")
    w = rng.standard_normal((2, W_DIM)).astype("float32")
    layer.build(x.shape, w.shape)
    layer.bias.assign(np.array([0.1, -0.2, 0.3], "float32"))
    styles = to_numpy(layer.affine(w)) / np.sqrt(5)
    want = np.einsum("nhwi,nio->nhwo", x, to_numpy(layer.kernel)[0, 0][None] * styles[..., None])
    np.testing.assert_allclose(to_numpy(layer(x, w)), want + [0.1, -0.2, 0.3], atol=1e-5)


def _block_from_fixture():
    data = load_fixture("stylegan2_block64")
    config = json.loads(str(data["config"]))
    state = {k.removeprefix("state/"): v for k, v in data.items() if k.startswith("state/")}
    nhwc = {k: data[k].transpose(0, 2, 3, 1) for k in ("x_in", "img_in", "x_out", "img_out")}
    block = SynthesisBlock(config["out_channels"], config["resolution"],
                           conv_clamp=config["conv_clamp"])
    block.build(nhwc["x_in"].shape, nhwc["img_in"].shape, data["ws"].shape)
    return block, state, nhwc, data["ws"]


@pytest.mark.platform
@pytest.mark.cross_backend
@pytest.mark.parametrize("fused", [True, False])
def test_synthesis_block_matches_original(fused):
    block, state, data, ws = _block_from_fixture()
    load_synthesis_block(block, state)
    x, img = block(data["x_in"], data["img_in"], ws, noise_mode="const", fused_modconv=fused)
    np.testing.assert_allclose(to_numpy(x), data["x_out"], atol=1e-4, rtol=0)
    np.testing.assert_allclose(to_numpy(img), data["img_out"], atol=1e-4, rtol=0)


def test_block_import_reports_every_problem_and_changes_nothing():
    block, state, _, _ = _block_from_fixture()
    before = to_numpy(block.conv1.kernel).copy()
    bad = dict(state)
    del bad["conv0.noise_const"]
    bad["conv1.weight"] = bad["conv1.weight"][:, :16]
    bad["torgb.extra"] = np.zeros(3, "float32")
    with pytest.raises(WeightImportError) as error:
        load_synthesis_block(block, bad)
    message = str(error.value)
    assert "missing (1): conv0.noise_const" in message
    assert "unexpected (1): torgb.extra" in message
    assert "mis-shaped (1): conv1.weight" in message
    np.testing.assert_array_equal(to_numpy(block.conv1.kernel), before)


def test_block_table_names():
    block, state, _, _ = _block_from_fixture()
    params = {name for name in state if not name.endswith("resample_filter")}
    assert set(synthesis_block_table(block)) == params
    assert "torgb.weight" not in synthesis_block_table(
        _built_block(SynthesisBlock(4, 8, torgb=False)))


def _built_block(block, batch=2):
    x_res = block.resolution // 2 if block.up else block.resolution
    block.build((batch, x_res, x_res, 3), (batch, 4, 4, 3), (batch, block.num_ws, W_DIM))
    return block


def test_block_without_torgb_or_up_sampling(rng):
    block = _built_block(SynthesisBlock(4, 8, up=False, torgb=False, seed=3))
    assert block.num_ws == 2
    x = rng.standard_normal((2, 8, 8, 3)).astype("float32")
    img = rng.standard_normal((2, 4, 4, 3)).astype("float32")
    ws = rng.standard_normal((2, 2, W_DIM)).astype("float32")
    y, img_out = block(x, img, ws)
    assert y.shape == (2, 8, 8, 4)
    np.testing.assert_array_equal(to_numpy(img_out), img)
    with pytest.raises(ValueError, match="reads 2 ws"):
        block(x, img, np.zeros((2, 3, W_DIM), "float32"))


def test_block_round_trips_through_keras_file(rng, tmp_path):
    x_in = keras.Input((4, 4, 3))
    img_in = keras.Input((4, 4, 3))
    ws_in = keras.Input((3, W_DIM))
    block = SynthesisBlock(4, 8, conv_clamp=256.0, seed=4, name="b8")
    x, img = block(x_in, img_in, ws_in, noise_mode="const")
    model = keras.Model([x_in, img_in, ws_in], [x, img])
    block.conv0.noise_strength.assign(0.3)
    inputs = [rng.standard_normal((2, 4, 4, 3)).astype("float32"),
              rng.standard_normal((2, 4, 4, 3)).astype("float32"),
              rng.standard_normal((2, 3, W_DIM)).astype("float32")]
    path = tmp_path / "block.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    for want, got in zip(model(inputs), loaded(inputs), strict=True):
        np.testing.assert_allclose(to_numpy(got), to_numpy(want), atol=1e-6)
    assert loaded.get_layer("b8").get_config() == block.get_config()
