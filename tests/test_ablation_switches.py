"""The paper's Appendix B variants of the encoder layer: layer-norm position and Q/K
demodulation (``generator.layer_norm``, ``generator.demodulate_qk``)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import to_numpy

from sfkeras.config import GeneratorConfig
from sfkeras.layers.attention import ModulatedEncoderLayer
from sfkeras.models.generator import Generator
from sfkeras.saved.loader import load_generator

SEQ, HIDDEN, W_DIM = 16, 8, 4
SCALE = 1.5  # of s1


def _layer(**switches) -> ModulatedEncoderLayer:
    layer = ModulatedEncoderLayer(HIDDEN, num_heads=2, seed=0, **switches)
    layer.build((None, SEQ, HIDDEN), (None, W_DIM))
    rng = np.random.default_rng(1)
    layer.bias.assign(np.zeros(HIDDEN, np.float32))
    for weight in (layer.query_kernel, layer.key_kernel, layer.value_kernel,
                   layer.output_kernel, layer.skip_kernel):
        weight.assign(0.3 * rng.standard_normal(weight.shape).astype(np.float32))
    return layer


def _with_styles(layer: ModulatedEncoderLayer, styles: np.ndarray) -> None:
    """Make the affine produce ``styles`` ``[2 * HIDDEN]`` (s1, s2) for every w."""
    layer.affine.kernel.assign(np.zeros(layer.affine.kernel.shape, np.float32))
    layer.affine.bias.assign(styles / layer.affine.lr_multiplier)


def _inputs():
    rng = np.random.default_rng(2)
    return (rng.standard_normal((3, SEQ, HIDDEN)).astype(np.float32),
            rng.standard_normal((3, W_DIM)).astype(np.float32))


def _log_attention(layer, x, w, s1_scale: float) -> np.ndarray:
    styles = np.random.default_rng(3).uniform(0.5, 1.5, 2 * HIDDEN).astype(np.float32)
    styles[:HIDDEN] *= s1_scale
    _with_styles(layer, styles)
    _, attention = layer(x, w, noise_mode="none", return_attention=True)
    return np.log(to_numpy(attention).astype(np.float64))


@pytest.mark.parametrize("layer_norm", ["pre", "post"])
def test_demodulated_qk_make_the_attention_independent_of_the_style_scale(layer_norm):
    """With Q and K demodulated, scaling s1 by c scales them by c / c (post-LN) or
    1 / c with a normalised ``h`` (pre-LN): the logits follow the style only through
    the demodulation; without it they scale as c**2 (post) or stay (pre)."""
    x, w = _inputs()
    layer = _layer(layer_norm=layer_norm, demodulate_qk=True)
    base, scaled = (_log_attention(layer, x, w, c) for c in (1.0, SCALE))
    if layer_norm == "post":  # h = x * s1: demodulation cancels the scale exactly
        np.testing.assert_allclose(scaled, base, atol=1e-4)
    else:  # h = LN(x * s1) ignores it; the demodulation coefficients divide Q, K by c
        _assert_logits_scale(base, scaled, SCALE**-2)


@pytest.mark.parametrize("layer_norm, factor", [("pre", 1.0), ("post", SCALE**2)])
def test_without_qk_demodulation_the_logits_scale_with_the_modulated_tokens(layer_norm, factor):
    x, w = _inputs()
    layer = _layer(layer_norm=layer_norm, demodulate_qk=False)
    base, scaled = (_log_attention(layer, x, w, c) for c in (1.0, SCALE))
    _assert_logits_scale(base, scaled, factor)


def _assert_logits_scale(base: np.ndarray, scaled: np.ndarray, factor: float) -> None:
    """log-softmax of ``factor * logits`` equals ``factor * log p`` up to a per-row
    constant: the logits were multiplied by ``factor``."""
    difference = scaled - factor * base
    spread = difference.max(axis=-1) - difference.min(axis=-1)
    assert spread.max() < 5e-3, spread.max()  # float32 log-probabilities


def test_post_layer_norm_normalises_each_output_token_before_noise_and_bias():
    x, w = _inputs()
    layer = _layer(layer_norm="post")
    out = to_numpy(layer(x * 50.0, w, noise_mode="none")).astype(np.float64)
    pre_activation = np.where(out > 0, out, out / 0.2)  # leaky ReLU 0.2 undone (bias 0)
    np.testing.assert_allclose(pre_activation.mean(-1), 0, atol=1e-4)
    np.testing.assert_allclose(pre_activation.var(-1), 1, atol=1e-3)
    pre = to_numpy(_layer(layer_norm="pre")(x * 50.0, w, noise_mode="none"))
    assert np.abs(np.where(pre > 0, pre, pre / 0.2).mean(-1)).max() > 1e-2  # not normalised


def test_unknown_layer_norm_position_is_refused():
    with pytest.raises(ValueError, match="layer_norm must be one of"):
        ModulatedEncoderLayer(HIDDEN, num_heads=2, layer_norm="middle")


@pytest.mark.parametrize("fields", [{"layer_norm": "post"}, {"demodulate_qk": False}])
def test_switches_round_trip_through_keras_files(fields, tmp_path):
    config = GeneratorConfig(resolution=16, num_layers=(1, 1), hidden=(16, 8), depth=8,
                             z_dim=8, w_dim=8, **fields)
    generator = Generator(config, seed=0)
    z = np.random.default_rng(0).standard_normal((2, 8)).astype(np.float32)
    generator.save(tmp_path / "G.keras")
    loaded = load_generator(tmp_path / "G.keras")
    assert loaded.config == config
    for stage in loaded.synthesis.stages:
        for encoder in stage.encoders:
            assert (encoder.layer_norm, encoder.demodulate_qk) == (
                config.layer_norm, config.demodulate_qk)
    np.testing.assert_array_equal(to_numpy(loaded(z, noise_mode="const")),
                                  to_numpy(generator(z, noise_mode="const")))
    default = Generator(config.replace(layer_norm="pre", demodulate_qk=True), seed=0)
    assert np.abs(to_numpy(default(z, noise_mode="const"))
                  - to_numpy(generator(z, noise_mode="const"))).max() > 1e-3


def test_attention_statistics_read_uniform_and_one_hot_attention():
    from sfkeras.models.attention_statistics import _row_statistics

    uniform = np.full((2, 3, 5, 8), 1 / 8)
    one_hot = np.zeros((2, 3, 5, 8))
    one_hot[..., 3] = 1.0
    np.testing.assert_allclose(_row_statistics(uniform), [2 * 1.0, 2 * 1 / 8])
    np.testing.assert_allclose(_row_statistics(one_hot), [0.0, 2 * 1.0], atol=1e-12)


def test_attention_metrics_name_every_encoder_layer_and_sharpen_without_demodulation():
    from sfkeras.metrics.attention import attention_metrics

    config = GeneratorConfig(resolution=16, num_layers=(1, 2), hidden=(16, 8), depth=8,
                             z_dim=8, w_dim=8, layer_norm="post")
    generator = Generator(config, seed=0)
    metrics = attention_metrics(generator, num_latents=8)
    assert list(metrics) == [f"attention.{block}.{name}" for block in ("b8_0", "b16_0", "b16_1")
                             for name in ("entropy", "max")]
    assert all(0.0 <= value <= 1.0 for value in metrics.values())
    assert attention_metrics(generator, num_latents=0) == {}
    # Post-LN without Q/K demodulation: larger styles give larger logits, sharper rows.
    sharp = Generator(config.replace(demodulate_qk=False), seed=0)
    for layer in sharp.synthesis.stages[0].encoders:
        layer.affine.bias.assign(4.0 * np.ones(layer.affine.bias.shape, np.float32))
    sharp_metrics = attention_metrics(sharp, num_latents=8)
    assert sharp_metrics["attention.b8_0.entropy"] < metrics["attention.b8_0.entropy"]
