"""StyleGAN2-ADA augmentation pipeline: identities, each transform, exact gradients."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from sfkeras.config.augment import AugmentConfig
from sfkeras.training.augment import PIPELINES, SYM6, AugmentPipe, build_augment_pipe

SEED = tf.constant([3, 7])


def _images(rng, shape=(4, 16, 16, 3), dtype="float32"):
    return tf.constant(np.clip(rng.normal(0, 0.5, shape), -1, 1), dtype=dtype)


def _smooth_images(rng, shape=(4, 16, 16, 3)):
    """Low-frequency images, on which the original's resampling filter is nearly exact."""
    coarse = tf.constant(rng.uniform(-1, 1, (shape[0], 4, 4, shape[3])), tf.float32)
    return tf.image.resize(coarse, shape[1:3], method="bicubic")


def _pipe(transforms, p=1.0, **kwargs):
    pipe = AugmentPipe(transforms, p=p, seed=0, **kwargs)
    pipe.build((None, 16, 16, 3))
    return pipe


def test_p_zero_is_exact_identity_eagerly_and_compiled(rng):
    x = _images(rng)
    pipe = _pipe(PIPELINES["bgc"], p=0.0)
    compiled = tf.function(pipe)
    for seed in range(3):
        for augment in (pipe, compiled):
            y = augment(x, seed=tf.constant([seed, 0]))
            np.testing.assert_array_equal(y.numpy(), x.numpy())


@pytest.mark.parametrize("name", PIPELINES["bgc"])
def test_each_transform_changes_images_within_a_sensible_range(rng, name):
    x = _images(rng, (8, 16, 16, 3))
    y = _pipe((name,))(x, seed=SEED).numpy()
    changed = np.abs(y - x.numpy()).max(axis=(1, 2, 3)) > 1e-3
    assert changed.any(), f"{name} at p=1 left every image unchanged"
    assert np.all(np.isfinite(y))
    assert abs(y.mean()) < 0.5 and 0.05 < y.std() < 1.5


def _closest(y, candidates):
    """Index and relative distance of the candidate nearest to ``y``, per image."""
    errors = np.stack([np.abs(y - c).mean(axis=(1, 2, 3)) for c in candidates])
    best = errors.argmin(axis=0)
    second = np.sort(errors, axis=0)[1]
    return best, errors.min(axis=0) / second


def test_xflip_mirrors_half_of_the_images_through_the_original_filter_pair(rng):
    """Mirrored images are ``x[:, :, ::-1]`` seen through the mirrored sym6 filter pair.

    Up-sampling, mirroring and down-sampling with the asymmetric sym6 filter (as the
    original does) amounts to correlating each mirrored row with the even taps of
    ``sym6 * sym6`` (centre tap 0.965), not to the identity; unflipped images of the
    same batch come back unchanged up to rounding.
    """
    x = _images(rng, (8, 24, 24, 3), dtype="float64")
    y = AugmentPipe(("xflip",), p=1.0, seed=0, dtype="float64")(x, seed=SEED).numpy()
    x = x.numpy()
    taps = np.convolve(SYM6, SYM6)[::2]  # centre tap at index 5
    mirrored = np.pad(x[:, :, ::-1], ((0, 0), (0, 0), (8, 8), (0, 0)), mode="reflect")
    filtered = sum(tap * mirrored[:, :, 3 + u : 27 + u] for u, tap in enumerate(taps))
    unchanged = np.abs(y - x).max(axis=(1, 2, 3)) < 1e-9
    flipped = np.abs(y - filtered)[:, :, 8:-8].max(axis=(1, 2, 3)) < 1e-9
    assert np.all(unchanged ^ flipped)
    assert 0 < flipped.sum() < len(flipped)


def test_rotate90_rotates_by_all_four_quarter_turns(rng):
    """Each image is nearest to one ``rot90(x, k)`` (up to the filter-pair effect above)."""
    x = _smooth_images(rng, (16, 16, 16, 3))
    y = _pipe(("rotate90",))(x, seed=SEED).numpy()
    x = x.numpy()
    best, ratio = _closest(y, [np.rot90(x, k, axes=(1, 2)) for k in range(4)])
    assert len(set(best.tolist())) == 4
    assert ratio.max() < 0.05
    np.testing.assert_allclose(y[best == 0], x[best == 0], atol=1e-5)


def test_integer_translation_is_exact_with_reflect_padding(rng):
    x = _images(rng, dtype="float64")
    pipe = AugmentPipe(("xint",), p=1.0, seed=0, dtype="float64")
    y = pipe(x, seed=SEED).numpy()
    x = x.numpy()
    for image, source in zip(y, x, strict=True):
        padded = np.pad(source, ((2, 2), (2, 2), (0, 0)), mode="reflect")
        matches = [
            (dy, dx)
            for dy in range(-2, 3)
            for dx in range(-2, 3)
            if np.abs(image - padded[2 + dy : 18 + dy, 2 + dx : 18 + dx]).max() < 1e-9
        ]
        assert len(matches) == 1, "each image is its reflect-padded source shifted by <= 2 pixels"


def test_color_transform_is_affine_per_image(rng):
    x = _images(rng, dtype="float64")
    pipe = AugmentPipe(PIPELINES["color"], p=1.0, seed=0, dtype="float64")
    y = pipe(x, seed=SEED).numpy().reshape(4, -1, 3)
    x = x.numpy().reshape(4, -1, 3)
    for image, source in zip(y, x, strict=True):
        homogeneous = np.concatenate([source, np.ones_like(source[:, :1])], axis=1)
        matrix, residual, *_ = np.linalg.lstsq(homogeneous, image, rcond=None)
        assert residual.max() < 1e-18 * len(source) + 1e-12
        assert not np.allclose(matrix[:3], np.eye(3))


def test_brightness_adds_one_offset_per_image(rng):
    x = _images(rng)
    y = _pipe(("brightness",))(x, seed=SEED).numpy()
    offsets = (y - x.numpy()).reshape(4, -1)
    np.testing.assert_allclose(offsets, offsets[:, :1] * np.ones_like(offsets), atol=1e-6)
    assert np.abs(offsets[:, 0]).max() > 0


def test_max_p_bounds_the_probability_used(rng):
    x = _images(rng, (64, 8, 8, 3))
    capped = AugmentPipe(("brightness",), p=1.0, max_p=0.25, seed=0)
    full = AugmentPipe(("brightness",), p=0.25, seed=0)
    np.testing.assert_array_equal(capped(x, seed=SEED).numpy(), full(x, seed=SEED).numpy())


def test_probability_matches_p(rng):
    x = _images(rng, (400, 4, 4, 3))
    y = AugmentPipe(("contrast",), p=0.3, seed=0)(x, seed=SEED).numpy()
    fraction = np.mean(np.abs(y - x.numpy()).max(axis=(1, 2, 3)) > 0)
    assert 0.22 < fraction < 0.38


def test_same_seed_same_output_and_generator_is_reproducible(rng):
    x = _images(rng)
    a, b = _pipe(PIPELINES["bgc"], p=0.5), _pipe(PIPELINES["bgc"], p=0.5)
    np.testing.assert_array_equal(a(x, seed=SEED).numpy(), b(x, seed=SEED).numpy())
    first = [a(x).numpy() for _ in range(2)]
    second = [b(x).numpy() for _ in range(2)]
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])
    assert not np.array_equal(first[0], first[1])


def test_runs_in_tf_function_with_any_batch_size(rng):
    pipe = _pipe(PIPELINES["bgc"], p=0.5)
    augment = tf.function(pipe, input_signature=[tf.TensorSpec([None, 16, 16, 3], tf.float32)])
    for batch in (1, 3):
        x = _images(rng, (batch, 16, 16, 3))
        assert augment(x).shape == (batch, 16, 16, 3)


def _bgc64(p=0.8):
    return AugmentPipe(PIPELINES["bgc"], p=p, seed=0, dtype="float64")


def test_gradients_match_finite_differences(rng):
    x = _images(rng, (2, 8, 8, 3), dtype="float64")
    pipe = _bgc64()
    weights = tf.constant(rng.normal(size=(2, 8, 8, 3)))

    def objective(images):
        return tf.reduce_sum(tf.sin(3 * pipe(images, seed=SEED)) * weights)

    with tf.GradientTape() as tape:
        tape.watch(x)
        value = objective(x)
    gradient = tape.gradient(value, x).numpy()
    assert np.abs(gradient).max() > 0
    eps = 1e-6
    for index in [(0, 0, 0, 0), (0, 3, 4, 1), (1, 7, 2, 2), (1, 5, 5, 0)]:
        step = np.zeros(x.shape)
        step[index] = eps
        numeric = (objective(x + step) - objective(x - step)).numpy() / (2 * eps)
        np.testing.assert_allclose(gradient[index], numeric, rtol=1e-6, atol=1e-8)


def test_second_order_gradients_exist_and_are_exact(rng):
    """R1's structure: d/dw |d D(aug(x)) / dx|^2 through the pipeline, checked numerically."""
    x = _images(rng, (2, 8, 8, 3), dtype="float64")
    pipe = _bgc64()
    w = tf.Variable(rng.normal(size=(8, 8, 3)))

    def penalty():
        with tf.GradientTape() as inner:
            inner.watch(x)
            logits = tf.reduce_sum(tf.tanh(pipe(x, seed=SEED) * w), axis=(1, 2, 3))
            total = tf.reduce_sum(logits)
        grad_x = inner.gradient(total, x)
        return tf.reduce_sum(tf.square(grad_x))

    def penalty_gradient():
        with tf.GradientTape() as outer:
            value = penalty()
        return outer.gradient(value, w)

    grad_w = penalty_gradient().numpy()
    assert np.abs(grad_w).max() > 0
    np.testing.assert_allclose(tf.function(penalty_gradient)().numpy(), grad_w, rtol=1e-10)
    eps = 1e-6
    for index in [(0, 0, 0), (3, 4, 1), (7, 7, 2)]:
        step = np.zeros(w.shape)
        step[index] = eps
        w.assign_add(step)
        plus = penalty().numpy()
        w.assign_sub(2 * step)
        minus = penalty().numpy()
        w.assign_add(step)
        np.testing.assert_allclose(grad_w[index], (plus - minus) / (2 * eps), rtol=1e-5, atol=1e-8)


def test_p_is_a_checkpointed_weight_and_config_round_trips():
    pipe = AugmentPipe(("xflip", "hue"), p=0.25, max_p=0.7, seed=5)
    pipe.build((None, 16, 16, 3))
    pipe.p.assign(0.5)
    assert [w.name for w in pipe.non_trainable_weights] == ["p"] and not pipe.trainable_weights
    clone = AugmentPipe.from_config(pipe.get_config())
    assert clone.transforms == pipe.transforms and clone.max_p == 0.7 and clone.seed == 5
    clone.build((None, 16, 16, 3))
    clone.set_weights(pipe.get_weights())
    assert float(clone.p.numpy()) == 0.5
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(pipe))
    assert isinstance(restored, AugmentPipe)


def test_build_augment_pipe_follows_the_config():
    assert build_augment_pipe(AugmentConfig(mode="noaug"), (16, 16, 3)) is None
    config = AugmentConfig(mode="fixed", pipeline="geom", p=0.3, max_p=0.7)
    pipe = build_augment_pipe(config, (16, 16, 3))
    assert pipe.transforms == frozenset(PIPELINES["geom"]) and pipe.max_p == 0.7
    assert float(pipe.p.numpy()) == pytest.approx(0.3)


def test_rejects_unknown_transforms_and_non_rgb():
    with pytest.raises(ValueError, match="unknown transforms"):
        AugmentPipe(("cutout",))
    with pytest.raises(ValueError, match="RGB"):
        AugmentPipe().build((None, 16, 16, 1))
