"""evaluate_generator end to end with a fake generator, fake real images and a tiny
stand-in feature extractor; loading generators from .keras and SavedModel files."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from sfkeras.images import to_uint8
from sfkeras.metrics import evaluate as evaluate_module
from sfkeras.metrics.evaluate import RealImages, evaluate_generator, generated_images
from sfkeras.metrics.generator_fn import load_generator_fn
from sfkeras.metrics.statistics import (
    FeatureStats,
    frechet_distance,
    kernel_distance,
    precision_recall,
)
from sfkeras.saved.loader import load_generator

Z_DIM = 12


def fake_generator(z: np.ndarray) -> np.ndarray:
    """Latents ``[N, 12]`` -> float images ``[N, 2, 2, 3]`` in (-1, 1)."""
    return np.tanh(z.reshape(len(z), 2, 2, 3) * 0.8)


def tiny_features(images: np.ndarray) -> np.ndarray:
    """Stand-in for the Inception: uint8 ``[N, 2, 2, 3]`` -> ``[N, 12]``."""
    assert images.dtype == np.uint8
    return images.reshape(len(images), -1).astype(np.float32) / 255


class FakeReals:
    """Real images ``[N, 2, 2, 3]`` served in batches, counting passes."""

    def __init__(self, rng, count=300):
        self.images = rng.integers(0, 256, size=(count, 2, 2, 3), dtype=np.uint8)
        self.passes = 0

    def batches(self, batch_size):
        self.passes += 1
        for start in range(0, len(self.images), batch_size):
            yield self.images[start : start + batch_size]

    def real_images(self) -> RealImages:
        return RealImages(key="fake-train", batches=self.batches)


def test_generated_images_convert_as_the_original():
    values = np.array([-1.5, -1.0, -0.004, 0.0, 0.99, 1.0, 2.0], np.float32)
    batches = list(generated_images(lambda z: np.broadcast_to(values, (len(z), 7)),
                                    z_dim=3, num_images=5, batch_size=2, seed=0))
    assert [len(b) for b in batches] == [2, 2, 1]
    np.testing.assert_array_equal(batches[0][0], [0, 0, 127, 128, 254, 255, 255])
    uint8_images = np.full((4, 1), 200, np.uint8)
    passed = next(generated_images(lambda z: uint8_images[: len(z)], z_dim=3, num_images=4,
                                   batch_size=4, seed=0))
    np.testing.assert_array_equal(passed, uint8_images)  # uint8 output is used as is


def test_evaluate_equals_direct_computation(rng):
    reals = FakeReals(rng)
    results = evaluate_generator(
        fake_generator, reals.real_images(), ["fid2k", "kid2k", "pr2k3", "fid2k_full"],
        z_dim=Z_DIM, num_images=64, batch_size=24, seed=3, feature_fn=tiny_features,
        progress=False,
    )
    assert sorted(results) == ["fid2k", "fid2k_full", "kid2k", "pr2k3_precision",
                               "pr2k3_recall"]
    assert reals.passes == 1  # one pass serves the first-64 and the all-images statistics

    z = np.random.default_rng(3).standard_normal((64, Z_DIM), np.float32)
    gen = tiny_features(to_uint8(fake_generator(z)))
    first, everything = tiny_features(reals.images[:64]), tiny_features(reals.images)

    def fid(a, b):
        stats = [FeatureStats(), FeatureStats()]
        stats[0].append(a)
        stats[1].append(b)
        return frechet_distance(*stats[0].mean_cov(), *stats[1].mean_cov())

    assert results["fid2k"] == pytest.approx(fid(gen, first), rel=1e-9)
    assert results["fid2k_full"] == pytest.approx(fid(gen, everything), rel=1e-9)
    assert results["kid2k"] == pytest.approx(kernel_distance(gen, first, seed=3), rel=1e-9)
    assert (results["pr2k3_precision"], results["pr2k3_recall"]) == precision_recall(first, gen)


def test_evaluate_does_not_depend_on_batch_size(rng):
    reals = FakeReals(rng)
    run = lambda batch_size: evaluate_generator(  # noqa: E731
        fake_generator, reals.real_images(), ["fid2k", "kid2k"], z_dim=Z_DIM, num_images=50,
        batch_size=batch_size, seed=0, feature_fn=tiny_features, progress=False)
    assert run(16) == pytest.approx(run(50), rel=1e-9)  # same images, sums in another order


def test_real_statistics_are_cached_by_content(rng, tmp_path, monkeypatch):
    monkeypatch.setenv("SFKERAS_CACHE", str(tmp_path))
    monkeypatch.setattr(evaluate_module, "inception_features",
                        lambda images, batch_size, weights_path, threads: tiny_features(images))
    reals = FakeReals(rng)
    run = lambda: evaluate_generator(  # noqa: E731
        fake_generator, reals.real_images(), ["fid2k", "kid2k_full"], z_dim=Z_DIM,
        num_images=40, batch_size=16, progress=False)
    first = run()
    assert reals.passes == 1
    assert sorted(p.name for p in (tmp_path / "gan-metrics").iterdir()) == [
        f"fake-train-{evaluate_module.INCEPTION_ID}-1000000-features.npz",
        f"fake-train-{evaluate_module.INCEPTION_ID}-40-meancov.npz",
    ]
    assert run() == first and reals.passes == 1


def test_evaluate_on_a_prepared_data_set(tmp_path, monkeypatch):
    from sfkeras.config.data import DataConfig, ShapesSourceConfig
    from sfkeras.data import iterate_uint8, load_manifest, prepare_dataset

    config = DataConfig(name="tiny", resolution=8,
                        shapes=ShapesSourceConfig(num_train=40, num_test=0))
    folder = prepare_dataset(config, tmp_path / "prepared", progress=False)
    monkeypatch.setenv("SFKERAS_CACHE", str(tmp_path / "cache"))

    def pooled_features(images, batch_size=None, weights_path=None, threads=1):
        """uint8 [N, 8, 8, 3] -> 4x4-pooled [N, 12] floats."""
        return images.reshape(len(images), 2, 4, 2, 4, 3).mean(axis=(2, 4)).reshape(
            len(images), 12).astype(np.float32) / 255

    monkeypatch.setattr(evaluate_module, "inception_features", pooled_features)
    generator = lambda z: np.tanh(np.tile(z, (1, 16)).reshape(len(z), 8, 8, 3))  # noqa: E731
    results = evaluate_generator(generator, folder, ["fid2k_full", "pr2k3"], z_dim=12,
                                 num_images=20, batch_size=16, progress=False)

    z = np.random.default_rng(0).standard_normal((20, 12), np.float32)
    gen = pooled_features(to_uint8(generator(z)))
    real = pooled_features(np.concatenate(list(iterate_uint8(folder, "train", 16))))
    stats = [FeatureStats(), FeatureStats()]
    stats[0].append(gen)
    stats[1].append(real)
    expected_fid = frechet_distance(*stats[0].mean_cov(), *stats[1].mean_cov())
    assert results["fid2k_full"] == pytest.approx(expected_fid, rel=1e-9)
    assert (results["pr2k3_precision"], results["pr2k3_recall"]) == precision_recall(
        real[:20], gen)
    key = f"{load_manifest(folder).content_hash}-train-{evaluate_module.INCEPTION_ID}"
    assert sorted(p.name for p in (tmp_path / "cache" / "gan-metrics").iterdir()) == [
        f"{key}-20-features.npz", f"{key}-all-meancov.npz"]


def test_evaluate_rejects_unknown_metric(rng):
    with pytest.raises(ValueError, match="unknown metric 'fid'"):
        evaluate_generator(fake_generator, FakeReals(rng).real_images(), ["fid"], z_dim=Z_DIM,
                           feature_fn=tiny_features, progress=False)


def test_evaluate_reads_prepared_data_sets_only(tmp_path):
    from sfkeras.data import DataError

    with pytest.raises(DataError, match="not a prepared data set"):
        evaluate_generator(fake_generator, tmp_path, ["fid2k"], z_dim=Z_DIM,
                           feature_fn=tiny_features, progress=False)


# --- loading generators -------------------------------------------------------------

def test_load_keras_generator(tmp_path, rng):
    from sfkeras.config import GeneratorConfig
    from sfkeras.models import Generator

    model = Generator(GeneratorConfig(resolution=16, num_layers=(1, 1), hidden=(16, 8),
                                      depth=8, z_dim=4, w_dim=8), seed=0)
    z = rng.normal(size=(3, 4)).astype(np.float32)
    expected = keras.ops.convert_to_numpy(model(z, truncation_psi=0.5, noise_mode="const"))
    model.save(tmp_path / "G.keras")
    generator = load_generator_fn(tmp_path / "G.keras", truncation_psi=0.5)
    assert generator.z_dim == 4
    loaded = load_generator(tmp_path / "G.keras")
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(loaded(z, truncation_psi=0.5, noise_mode="const")),
        expected, rtol=1e-6)
    assert generator(z).shape == (3, 16, 16, 3)


class _Exported(tf.Module):
    def __init__(self):
        super().__init__()
        self.scale = tf.Variable(50.0)

    def images(self, z, psi):
        return tf.cast(tf.reshape(tf.abs(z * psi) * self.scale, (-1, 2, 2, 1)), tf.uint8)


def test_load_saved_model_generator(tmp_path, rng):
    module = _Exported()
    z_spec = tf.TensorSpec([None, 4], tf.float32, name="z")
    psi_spec = tf.TensorSpec([], tf.float32, name="truncation_psi")
    generate = tf.function(lambda z, truncation_psi: {"images": module.images(z, truncation_psi)},
                           input_signature=[z_spec, psi_spec])
    serve = tf.function(lambda z: {"images": module.images(z, 1.0)}, input_signature=[z_spec])
    tf.saved_model.save(module, str(tmp_path / "both"),
                        signatures={"serving_default": serve, "generate": generate})
    tf.saved_model.save(module, str(tmp_path / "serving"), signatures={"serving_default": serve})
    z = rng.normal(size=(3, 4)).astype(np.float32)

    generator = load_generator_fn(tmp_path / "both", truncation_psi=0.5)
    assert generator.z_dim == 4
    np.testing.assert_array_equal(generator(z), module.images(z, 0.5).numpy())
    serving = load_generator_fn(tmp_path / "serving")
    np.testing.assert_array_equal(serving(z), module.images(z, 1.0).numpy())
    with pytest.raises(ValueError, match="no 'truncation_psi' input"):
        load_generator_fn(tmp_path / "serving", truncation_psi=0.7)


def test_load_generator_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_generator_fn(tmp_path / "absent.keras")
    (tmp_path / "G.h5").write_bytes(b"")
    with pytest.raises(ValueError, match="expected a .keras file, a training run folder"):
        load_generator_fn(tmp_path / "G.h5")
    (tmp_path / "G.pkl").write_bytes(b"")
    with pytest.raises(ValueError, match="not a readable network snapshot"):
        load_generator_fn(tmp_path / "G.pkl")
