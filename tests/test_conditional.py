"""Class-conditional networks (``generator.c_dim``): the labels reach G and D, a run
checks them against the data set, draws the generated images' labels from its label
distribution and trains; the tools take a class. Parity with the original's conditional
snapshot: ``test_convert_snapshot.py``; replicas: ``test_training_distribute.py``;
export: ``test_export.py``."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from training_setup import tiny_config

from sfkeras.cli import main
from sfkeras.config import ConfigError, DataConfig, GeneratorConfig
from sfkeras.config.data import ShapesSourceConfig
from sfkeras.data import class_distribution, prepare_dataset
from sfkeras.errors import DataError
from sfkeras.images import z_from_seeds
from sfkeras.labels import draw_labels, one_hot, row_labels
from sfkeras.metrics.evaluate import generated_images
from sfkeras.models import Discriminator, Generator
from sfkeras.render.figures import sample_grid
from sfkeras.saved.loader import load_generator
from sfkeras.training.run import train
from sfkeras.training.trainer import Trainer

TINY = GeneratorConfig(resolution=16, num_layers=(1, 1), hidden=(16, 8), depth=8,
                       z_dim=8, w_dim=8, c_dim=3)
Z = z_from_seeds(range(4), TINY.z_dim)
C = one_hot([0, 1, 2, 0], 3)


@pytest.fixture(scope="module")
def generator():
    return Generator(TINY, seed=0)


@pytest.fixture(scope="module")
def labelled(tmp_path_factory):
    """A tiny prepared shapes set labelled by shape kind (3 classes)."""
    config = DataConfig(name="shapes16_labels", resolution=16, images_per_shard=16,
                        shapes=ShapesSourceConfig(num_train=32, num_test=0, labels="kind"))
    return prepare_dataset(config, tmp_path_factory.mktemp("data"), progress=False)


def test_labels_steer_the_generator_and_an_unconditional_one_ignores_them(generator):
    ws = np.asarray(generator.mapping(Z, C))
    assert not np.allclose(ws, np.asarray(generator.mapping(Z, C[::-1])))
    with pytest.raises(ValueError, match=r"conditional \(c_dim=3\): pass c"):
        generator.mapping(Z)
    with pytest.raises(ValueError, match=r"labels c of shape \[N, 3\], got \(4, 2\)"):
        generator.mapping(Z, C[:, :2])
    unconditional = Generator(TINY.replace(c_dim=0), seed=0)
    np.testing.assert_array_equal(np.asarray(unconditional.mapping(Z)),
                                  np.asarray(unconditional.mapping(Z, C)))


def test_conditional_networks_round_trip_through_keras_files(generator, tmp_path):
    import keras

    generator.save(tmp_path / "G.keras")
    loaded = load_generator(tmp_path / "G.keras")
    assert loaded.c_dim == 3
    np.testing.assert_array_equal(np.asarray(loaded(Z, C, noise_mode="const")),
                                  np.asarray(generator(Z, C, noise_mode="const")))
    config = tiny_config(c_dim=3)
    discriminator = Discriminator(16, config.discriminator, c_dim=3)
    discriminator.build((None, 16, 16, 3))
    assert discriminator.cmap_dim == discriminator.channels_at(4)
    images = np.asarray(generator(Z, C, noise_mode="const"))
    logits = np.asarray(discriminator(images, C))
    assert not np.allclose(logits, np.asarray(discriminator(images, C[::-1])))
    discriminator.save(tmp_path / "D.keras")
    reloaded = keras.saving.load_model(tmp_path / "D.keras", compile=False)
    np.testing.assert_array_equal(np.asarray(reloaded(images, C)), logits)


def test_c_dim_must_match_the_data_sets_classes(labelled, tmp_path):
    assert class_distribution(labelled, 0) is None
    distribution = class_distribution(labelled, 3)
    assert distribution.shape == (3,) and distribution.sum() == pytest.approx(1.0)
    with pytest.raises(ConfigError, match=r"generator.c_dim: is 10, .* has 3 classes: set "
                                          r"c_dim to 3"):
        class_distribution(labelled, 10)
    unlabelled = prepare_dataset(
        DataConfig(name="plain", resolution=16, shapes=ShapesSourceConfig(num_train=4,
                                                                          num_test=0)),
        tmp_path, progress=False)
    with pytest.raises(ConfigError, match=r"generator.c_dim: is 3, but the prepared data set "
                                          r".* has no labels"):
        class_distribution(unlabelled, 3)
    assert issubclass(ConfigError, ValueError) and not issubclass(ConfigError, DataError)


def test_generated_labels_follow_the_training_sets_distribution():
    """Labels of generated images are drawn per phase for the global batch from the
    label distribution (a class without images is never drawn); real labels are the
    data's."""
    distribution = np.array([0.7, 0.3, 0.0])
    trainer = Trainer(tiny_config(c_dim=3, batch_size=64), tf.distribute.get_strategy(),
                      label_distribution=distribution)
    labels = np.concatenate([np.asarray(trainer._labels(tf.constant([0, seed], tf.int64), 0))
                             for seed in range(40)])
    assert labels.shape == (64 * 40, 3)
    np.testing.assert_allclose(labels.mean(axis=0), distribution, atol=0.03)
    with pytest.raises(ValueError, match="needs the training set's label distribution"):
        Trainer(tiny_config(c_dim=3), tf.distribute.get_strategy())


def test_a_conditional_run_trains_on_the_labelled_data(labelled, tmp_path):
    config = tiny_config(c_dim=3, metrics_kimg=0.0, kimg=0.008)
    trainer = train(config, dataset_path=labelled, out_dir=tmp_path)
    assert int(trainer.step.numpy()) == 2
    saved = load_generator(tmp_path / "G_ema.keras")
    assert saved.c_dim == 3 and trainer.discriminator.c_dim == 3
    assert list((tmp_path / "samples").glob("fakes*.png"))
    with pytest.raises(ConfigError, match="generator.c_dim"):
        train(tiny_config(c_dim=2), dataset_path=labelled, out_dir=tmp_path / "other")


def test_metrics_draw_labels_from_the_distribution_and_keep_the_latents():
    calls = []

    def generate(z, c=None):
        calls.append((z, c))
        return np.zeros((len(z), 16, 16, 3), np.float32)

    distribution = np.array([0.0, 1.0])
    list(generated_images(generate, z_dim=4, num_images=6, batch_size=4, seed=3,
                          label_distribution=distribution))
    list(generated_images(generate, z_dim=4, num_images=6, batch_size=4, seed=3))
    conditional, unconditional = calls[:2], calls[2:]
    for (z_c, c), (z_u, none) in zip(conditional, unconditional, strict=True):
        np.testing.assert_array_equal(z_c, z_u)
        assert none is None and (c == [0.0, 1.0]).all()


def test_label_helpers():
    np.testing.assert_array_equal(one_hot([2, 0], 3), [[0, 0, 1], [1, 0, 0]])
    with pytest.raises(ValueError, match=r"class 3 is out of range: .* 3 classes \(0-2\)"):
        one_hot([3], 3)
    assert draw_labels(np.array([0.0, 0.0, 1.0]), 5, np.random.default_rng(0))[:, 2].all()
    np.testing.assert_array_equal(row_labels(3, 2, 2).argmax(axis=1), [0, 0, 1, 1, 0, 0])


def test_sample_grid_has_a_row_per_class(generator):
    grid = sample_grid(generator, range(16))
    assert grid.shape == (3 * 16, 8 * 16, 3)  # 3 classes x max(ceil(16 / 3), 8) seeds


@pytest.fixture(scope="module")
def network(generator, tmp_path_factory):
    path = tmp_path_factory.mktemp("net") / "G.keras"
    generator.save(path)
    return path


def test_generate_takes_the_class_of_a_conditional_network(network, tmp_path):
    from PIL import Image

    for class_index in (0, 2):
        assert main(["generate", "--network", str(network), "--seeds", "1", "--class",
                     str(class_index), "--out", str(tmp_path / f"class{class_index}")]) == 0
    first, last = (np.asarray(Image.open(tmp_path / f"class{k}" / "seed0001.png"))
                   for k in (0, 2))
    assert not np.array_equal(first, last)
    assert main(["generate", "--network", str(network), "--seeds", "1", "--out",
                 str(tmp_path / "none")]) == 2  # a conditional network needs --class
    assert main(["generate", "--network", str(network), "--seeds", "1", "--class", "3",
                 "--out", str(tmp_path / "none")]) == 2  # out of range


def test_generate_refuses_a_class_for_an_unconditional_network(tmp_path, capsys):
    path = tmp_path / "G.keras"
    Generator(TINY.replace(c_dim=0), seed=0).save(path)
    assert main(["generate", "--network", str(path), "--seeds", "1", "--class", "0",
                 "--out", str(tmp_path / "out")]) == 2
    assert "--class: is 0, but the network is unconditional" in capsys.readouterr().err
