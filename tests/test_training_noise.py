"""Stateless synthesis noise: one seed per call, folded per stage, block and layer."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from sfkeras.config import GeneratorConfig
from sfkeras.layers.noise import fold_noise_seed
from sfkeras.models.generator import Generator
from sfkeras.training.loss import LossSettings, StyleGAN2Loss

#: Styleformer stages at 8 and 16, StyleGAN2 blocks at 32 (every noise layer kind).
CONFIG = GeneratorConfig(resolution=32, start_resolution=8, num_layers=(1, 1, 1),
                         hidden=(16, 16, 8), depth=16, z_dim=16, w_dim=16,
                         styleformer_max_resolution=16)


@pytest.fixture(scope="module")
def generator():
    generator = Generator(CONFIG, seed=3)
    for variable in generator.variables:
        if variable.path.endswith("noise_strength"):
            variable.assign(1.0)
    return generator


@pytest.fixture(scope="module")
def ws(generator):
    z = np.random.default_rng(0).normal(size=(2, CONFIG.z_dim)).astype(np.float32)
    return generator.mapping(z)


def _seed(a, b):
    return tf.constant([a, b], tf.int32)


def test_fold_gives_distinct_seeds_at_every_depth():
    seed = _seed(11, 22)
    folded = {tuple(fold_noise_seed(seed, i).numpy()) for i in range(4)}
    nested = {tuple(fold_noise_seed(fold_noise_seed(seed, i), j).numpy())
              for i in range(4) for j in range(4)}
    deeper = {tuple(fold_noise_seed(fold_noise_seed(fold_noise_seed(seed, i), j), k).numpy())
              for i in range(3) for j in range(3) for k in range(2)}
    assert len(folded) == 4 and len(nested) == 16 and len(deeper) == 18
    assert not folded & nested and not nested & deeper and not folded & deeper
    assert fold_noise_seed(None, 0) is None


def test_same_seed_same_noise_other_seed_other_noise(generator, ws):
    first = generator.synthesis(ws, noise_mode="random", noise_seed=_seed(1, 2))
    again = generator.synthesis(ws, noise_mode="random", noise_seed=_seed(1, 2))
    other = generator.synthesis(ws, noise_mode="random", noise_seed=_seed(1, 3))
    np.testing.assert_array_equal(first, again)
    assert np.abs(np.asarray(first) - np.asarray(other)).min() > 0  # every pixel moved


def test_every_noise_layer_draws_its_own_noise(generator, ws):
    """Each layer's noise changes the image; no two layers see the same stream."""
    constant = generator.synthesis(ws, noise_mode="const")
    layers = [v for v in generator.variables if v.path.endswith("noise_strength")]
    assert len(layers) == 4  # two encoders, two StyleGAN2 convolutions
    images = []
    for keep in layers:
        for variable in layers:
            variable.assign(1.0 if variable is keep else 0.0)
        images.append(np.asarray(generator.synthesis(ws, noise_mode="random",
                                                     noise_seed=_seed(5, 6))))
    for variable in layers:
        variable.assign(1.0)
    assert all(np.abs(image - np.asarray(constant)).max() > 0 for image in images)
    assert len({image.tobytes() for image in images}) == len(images)


def test_without_seed_layers_draw_from_their_seed_generators(generator, ws):
    first = generator.synthesis(ws, noise_mode="random")
    second = generator.synthesis(ws, noise_mode="random")
    assert np.abs(np.asarray(first) - np.asarray(second)).max() > 0
    fresh = Generator(CONFIG, seed=3)
    for target, source in zip(fresh.variables, generator.variables, strict=True):
        target.assign(source)  # seed-generator states included
    np.testing.assert_array_equal(fresh.synthesis(ws, noise_mode="random"),
                                  generator.synthesis(ws, noise_mode="random"))


def test_seeded_noise_in_a_compiled_function(generator, ws):
    synthesize = tf.function(lambda seed: generator.synthesis(ws, noise_mode="random",
                                                              noise_seed=seed))
    np.testing.assert_allclose(synthesize(_seed(1, 2)),
                               generator.synthesis(ws, noise_mode="random",
                                                   noise_seed=_seed(1, 2)), atol=1e-5)


def test_training_noise_follows_the_phase_seed(generator):
    """The loss draws synthesis noise from its seed: replicas' seeds differ, so does noise."""
    loss = StyleGAN2Loss(generator, discriminator=None,
                         settings=LossSettings(global_batch=2, r1_gamma=1.0))
    z = tf.constant(np.random.default_rng(1).normal(size=(2, CONFIG.z_dim)), tf.float32)
    step_seed = tf.constant([0, 7], tf.int64)
    replica = [tf.random.experimental.stateless_fold_in(step_seed, r) for r in range(2)]
    first, _ = loss.run_generator(z, replica[0])
    again, _ = loss.run_generator(z, replica[0])
    other, _ = loss.run_generator(z, replica[1])
    np.testing.assert_array_equal(first, again)
    assert np.abs(np.asarray(first) - np.asarray(other)).max() > 1e-3
