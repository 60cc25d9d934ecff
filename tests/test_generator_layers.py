"""Unit tests of the generator's layers: shapes, semantics, noise, config round trips."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from sfkeras.config import GeneratorConfig
from sfkeras.layers import (
    DemodulatedToRGB,
    MappingNetwork,
    ModulatedEncoderLayer,
    StyleformerStage,
)
from sfkeras.layers.attention import layer_norm
from sfkeras.layers.mapping import LabelMapping, normalize_2nd_moment
from sfkeras.layers.modulation import demodulation
from sfkeras.models.generator import Generator

W_DIM = 8
TINY = GeneratorConfig(resolution=16, num_layers=(1, 2), hidden=(16, 8), depth=4, z_dim=8,
                       w_dim=W_DIM)


def encoder(x_shape, **kwargs) -> ModulatedEncoderLayer:
    defaults = {"out_features": x_shape[-1], "num_heads": 2, "seed": 1}
    layer = ModulatedEncoderLayer(**{**defaults, **kwargs})
    layer.build(x_shape, (None, W_DIM))
    return layer


def test_demodulation_matches_explicit_modulated_weights(rng):
    styles = rng.normal(size=(3, 5)).astype("float32")
    kernel = rng.normal(size=(5, 7)).astype("float32")
    modulated = kernel[None] * styles[:, :, None]  # [N, in, out]
    expected = 1 / np.sqrt((modulated**2).sum(1) + 1e-8)
    np.testing.assert_allclose(demodulation(styles, kernel), expected, rtol=1e-5)


def test_layer_norm_normalises_each_token_over_channels(rng):
    x = rng.normal(2.0, 3.0, size=(2, 5, 6)).astype("float32")
    expected = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-5)
    np.testing.assert_allclose(layer_norm(x), expected, rtol=1e-4, atol=1e-5)


def test_normalize_2nd_moment(rng):
    z = rng.normal(size=(4, 10)).astype("float32") * 5
    np.testing.assert_allclose(np.mean(np.square(normalize_2nd_moment(z)), -1), 1.0, rtol=1e-5)


def test_encoder_layer_shapes_and_attention(rng):
    layer = encoder((None, 16, 8), out_features=4)
    x = rng.normal(size=(3, 16, 8)).astype("float32")
    w = rng.normal(size=(3, W_DIM)).astype("float32")
    out, attention = layer(x, w, noise_mode="none", return_attention=True)
    assert out.shape == (3, 16, 4)
    assert attention.shape == (3, 2, 16, 16)
    np.testing.assert_allclose(np.sum(attention, -1), 1.0, atol=1e-6)
    np.testing.assert_allclose(layer(x, w, noise_mode="none"), out)


@pytest.mark.parametrize("linformer_dim", [None, 8])
def test_chunked_attention_gradients_match_autodiff(rng, linformer_dim):
    """First- and second-order gradients (as path-length regularisation needs)."""
    import tensorflow as tf

    layer = encoder((None, 16, 8), linformer_dim=linformer_dim)
    x = tf.constant(rng.normal(size=(3, 16, 8)).astype("float32"))
    w = tf.constant(rng.normal(size=(3, W_DIM)).astype("float32"))
    probe = tf.constant(rng.normal(size=(3, 16, 8)).astype("float32"))

    def gradients(return_attention):
        with tf.GradientTape() as outer:
            outer.watch(x)
            with tf.GradientTape() as inner:
                inner.watch(x)
                out = layer(x, w, noise_mode="none", return_attention=return_attention)
                out = out[0] if return_attention else out
                loss = tf.reduce_sum(out * probe)
            grad_x, *grad_weights = inner.gradient(loss, [x, *layer.trainable_weights])
            penalty = tf.reduce_sum(tf.square(grad_x))
        second = outer.gradient(penalty, [x, *layer.trainable_weights])
        return [grad_x, *grad_weights, *second]

    for chunked, batched in zip(gradients(False), gradients(True), strict=True):
        assert (chunked is None) == (batched is None)  # e.g. unused noise_strength
        if chunked is not None:
            np.testing.assert_allclose(chunked, batched, rtol=1e-4, atol=1e-5)


def test_encoder_output_is_clamped_leaky_relu(rng):
    layer = encoder((None, 4, 8), conv_clamp=0.05)
    x = rng.normal(size=(2, 4, 8)).astype("float32")
    w = rng.normal(size=(2, W_DIM)).astype("float32")
    layer.bias.assign(np.linspace(-3, 3, 8).astype("float32"))
    out = np.asarray(layer(x, w, noise_mode="none"))
    assert out.max() <= 0.05 + 1e-7 and out.min() >= -0.05 - 1e-7
    assert (out < 0).any()  # leaky: negative values pass with slope 0.2


def test_noise_modes(rng):
    layer = encoder((None, 9, 8))
    x = rng.normal(size=(2, 9, 8)).astype("float32")
    w = rng.normal(size=(2, W_DIM)).astype("float32")
    # Bias pushes pre-activations positive so that the noise passes linearly.
    layer.bias.assign(np.full(8, 20.0, "float32"))
    without = np.asarray(layer(x, w, noise_mode="none"))
    np.testing.assert_allclose(layer(x, w, noise_mode="random"), without)  # strength 0
    layer.noise_strength.assign(0.5)
    const = np.asarray(layer(x, w, noise_mode="const"))
    expected = without + 0.5 * np.asarray(layer.noise_const)[None]
    np.testing.assert_allclose(const, expected, rtol=1e-5, atol=1e-5)
    first, second = (np.asarray(layer(x, w, noise_mode="random")) for _ in range(2))
    assert not np.allclose(first, second)  # fresh noise every call
    per_token = (first - without)[..., :1]
    np.testing.assert_allclose(first - without, np.broadcast_to(per_token, first.shape),
                               atol=1e-4)  # one value per token, shared by channels
    with pytest.raises(ValueError, match="noise_mode"):
        layer(x, w, noise_mode="fresh")


def test_linformer_with_identity_projection_is_full_attention(rng):
    x = rng.normal(size=(2, 16, 8)).astype("float32")
    w = rng.normal(size=(2, W_DIM)).astype("float32")
    full = encoder((None, 16, 8))
    projected = encoder((None, 16, 8), linformer_dim=16)
    for name in ("query_kernel", "key_kernel", "value_kernel", "output_kernel", "skip_kernel"):
        getattr(projected, name).assign(getattr(full, name))
    projected.affine.set_weights(full.affine.get_weights())
    projected.token_projection.assign(np.eye(16, dtype="float32"))
    np.testing.assert_allclose(projected(x, w, noise_mode="none"), full(x, w, noise_mode="none"),
                               rtol=1e-5, atol=1e-5)
    reduced = encoder((None, 16, 8), linformer_dim=4)
    out, attention = reduced(x, w, noise_mode="none", return_attention=True)
    assert out.shape == (2, 16, 8) and attention.shape == (2, 2, 16, 4)


def test_encoder_rejects_heads_that_do_not_divide_channels():
    with pytest.raises(ValueError, match="not divisible"):
        encoder((None, 4, 6), num_heads=4)


def test_torgb_is_demodulated(rng):
    layer = DemodulatedToRGB(3)
    layer.build((None, 4, 6), (None, W_DIM))
    x = rng.normal(size=(2, 4, 6)).astype("float32")
    w = rng.normal(size=(2, W_DIM)).astype("float32")
    styles = np.asarray(layer.affine(w))
    kernel = np.asarray(layer.kernel)
    modulated = kernel[None] * styles[:, :, None]
    demodulated = modulated / np.sqrt((modulated**2).sum(1) + 1e-8)[:, None]
    expected = np.einsum("nsi,nio->nso", x, demodulated)
    np.testing.assert_allclose(layer(x, w), expected, rtol=1e-4, atol=1e-5)


def test_mapping_truncation_and_w_avg(rng):
    mapping = MappingNetwork(W_DIM, num_ws=5, w_avg_beta=0.9)
    mapping.build((None, 6))
    assert not mapping.w_avg.trainable and mapping.w_avg.aggregation == "mean"
    z = rng.normal(size=(4, 6)).astype("float32")
    ws = np.asarray(mapping(z))
    assert ws.shape == (4, 5, W_DIM) and np.all(ws == ws[:, :1])
    np.testing.assert_array_equal(mapping.w_avg, 0.0)  # no update unless asked

    mapping(z, update_w_avg=True)
    np.testing.assert_allclose(mapping.w_avg, 0.1 * ws[:, 0].mean(0), rtol=1e-5, atol=1e-7)
    w_avg = np.asarray(mapping.w_avg)
    truncated = np.asarray(mapping(z, truncation_psi=0.5, truncation_cutoff=2))
    np.testing.assert_allclose(truncated[:, :2], w_avg + 0.5 * (ws[:, :2] - w_avg), rtol=1e-5)
    np.testing.assert_allclose(truncated[:, 2:], ws[:, 2:])
    np.testing.assert_allclose(mapping(z, truncation_psi=0.0), np.broadcast_to(w_avg, ws.shape))


def test_stage_reads_layers_ws_plus_torgb_and_upsamples(rng):
    stage = StyleformerStage(8, hidden=8, out_hidden=4, num_layers=2, num_heads=2, has_const=True)
    stage.build((None, 3, W_DIM))
    ws = rng.normal(size=(2, 3, W_DIM)).astype("float32")
    blocks = list(stage.run_blocks(None, None, ws, noise_mode="const"))
    assert [b.name for b in blocks] == ["b8_0", "b8_1"]
    assert blocks[0].img is None and blocks[0].x.shape == (2, 64, 8)
    assert blocks[1].x.shape == (2, 256, 4) and blocks[1].img.shape == (2, 8, 8, 3)
    x, img = stage(None, None, ws, noise_mode="const")
    assert x.shape == (2, 16, 16, 4)
    np.testing.assert_allclose(np.reshape(x, (2, 256, 4)), blocks[1].x)
    changed = ws.copy()
    changed[:, 2] += 1.0  # the ToRGB's w changes the image only
    _, other = stage(None, None, changed, noise_mode="const")
    assert not np.allclose(img, other)


def test_attention_maps_index_every_layer(rng):
    generator = Generator(TINY, seed=3)
    ws = generator.mapping(rng.normal(size=(2, TINY.z_dim)).astype("float32"))
    shapes = [generator.synthesis.attention_maps(ws, i, noise_mode="none").shape
              for i in range(3)]
    assert shapes == [(2, 4, 64, 64), (2, 2, 256, 256), (2, 2, 256, 256)]
    with pytest.raises(IndexError):
        generator.synthesis.attention_maps(ws, 3)


def _built_layers():
    generator = Generator(TINY, seed=3)
    stage = generator.synthesis.stages[0]
    conditional = Generator(TINY.replace(c_dim=3), seed=3)
    label_mapping = LabelMapping(3, 16, name="mapping")
    label_mapping.build((None, 3))
    return [stage.encoders[0], stage.torgb, stage, generator.mapping, generator.synthesis,
            generator, conditional.mapping, conditional, label_mapping]


@pytest.mark.parametrize("layer", _built_layers(), ids=lambda layer: type(layer).__name__)
def test_config_round_trip(layer):
    config = layer.get_config()
    clone = type(layer).from_config(config)
    assert clone.get_config() == config
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert type(restored) is type(layer) and restored.get_config() == config
