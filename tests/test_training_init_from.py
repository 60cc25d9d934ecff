"""``train.init_from``: a new run starts from a run folder, a .keras file or an original
snapshot, as StyleGAN2-ADA's ``--resume``; the source is part of the run key."""

from __future__ import annotations

import json

import numpy as np
import pytest
import tensorflow as tf
from conftest import FIXTURES
from training_setup import synthetic_dataset_fn, tiny_config

from sfkeras.config import ConfigError
from sfkeras.saved.runs import run_checkpoint_dir, run_key, trajectory_config
from sfkeras.training.checkpoint import TrainingCheckpoint
from sfkeras.training.init_from import initialise_from
from sfkeras.training.run import run_training
from sfkeras.training.trainer import Trainer

pytestmark = pytest.mark.slow  # several traced training steps

BATCH = 4


def _with_init(config, source):
    return config.replace(train=config.train.replace(init_from=str(source)))


def _assert_same(a, b):
    for x, y in zip(a.weights, b.weights, strict=True):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """A tiny run trained for two steps: ``(config, run folder, trainer)``."""
    config = tiny_config(d_reg_interval=1)
    folder = tmp_path_factory.mktemp("source")
    trainer = run_training(config, synthetic_dataset_fn(BATCH), folder, max_steps=2)
    return config, folder, trainer


def _reals():
    return tf.random.stateless_uniform([BATCH, 16, 16, 3], [3, 4], -1.0, 1.0)


def test_first_step_loss_equals_the_source_networks_next_step(source):
    """The networks, not the optimiser or counters, carry over: with the step counter
    (which seeds the step's latents and noise) equal, the fine-tuning run's first G loss
    is the one the source run computes at its next step."""
    config, folder, _ = source
    strategy = tf.distribute.get_strategy()
    continued = Trainer(config, strategy)
    TrainingCheckpoint(run_checkpoint_dir(folder, config), continued.checkpoint_groups(),
                       trajectory_config(config), keep=3).restore_latest()
    assert int(continued.step.numpy()) == 2
    continued.step.assign(0)
    continued.cur_nimg.assign(0)
    tuned = Trainer(_with_init(config, folder), strategy)
    assert initialise_from(tuned, folder) == ["G", "G_ema", "D"]
    expected, got = continued.run_step(_reals()), tuned.run_step(_reals())
    assert got["loss/G"] == pytest.approx(expected["loss/G"], rel=1e-6, abs=1e-7)
    fresh = Trainer(config, strategy).run_step(_reals())
    assert fresh["loss/G"] != pytest.approx(expected["loss/G"], rel=1e-4)


def test_run_training_initialises_a_new_run_once(source, tmp_path, capsys):
    config, folder, trained = source
    tuned_config = _with_init(config, folder)
    assert run_key(tuned_config) != run_key(config)
    tuned = run_training(tuned_config, synthetic_dataset_fn(BATCH), tmp_path, max_steps=0)
    assert "initialised G, G_ema, D from" in capsys.readouterr().out
    _assert_same(tuned.generator_ema, trained.generator_ema)
    _assert_same(tuned.discriminator, trained.discriminator)
    assert int(tuned.step.numpy()) == 0
    run_training(tuned_config, synthetic_dataset_fn(BATCH), tmp_path, max_steps=0)
    assert "initialised" not in capsys.readouterr().out  # resumed its own checkpoint


def test_init_from_a_keras_generator_and_a_mismatched_architecture(source, tmp_path):
    config, _, trained = source
    trained.generator_ema.save(tmp_path / "G_ema.keras")
    tuned = Trainer(config, tf.distribute.get_strategy())
    d_before = [np.asarray(v) for v in tuned.discriminator.weights]
    assert initialise_from(tuned, tmp_path / "G_ema.keras") == ["G", "G_ema"]
    _assert_same(tuned.generator, trained.generator_ema)
    _assert_same(tuned.generator_ema, trained.generator_ema)
    for before, after in zip(d_before, tuned.discriminator.weights, strict=True):
        np.testing.assert_array_equal(before, np.asarray(after))

    other = config.replace(generator=config.generator.replace(hidden=(16, 16)))
    mismatched = Trainer(other, tf.distribute.get_strategy())
    with pytest.raises(ConfigError, match="train.init_from: G of .* does not fit"):
        initialise_from(mismatched, tmp_path / "G_ema.keras")


def test_init_from_an_original_snapshot():
    from sfkeras.config import DataConfig
    from sfkeras.convert.discriminator import discriminator_config_from_official
    from sfkeras.convert.from_snapshot import (
        official_discriminator_config,
        official_generator_config,
    )
    from sfkeras.convert.generator import generator_config_from_official
    from sfkeras.convert.snapshot import read_snapshot

    path = FIXTURES / "snapshot_small32.pkl"
    if not path.exists():
        pytest.skip(f"{path} is absent")
    snapshot = read_snapshot(path)
    base = tiny_config()
    config = base.replace(
        data=DataConfig(resolution=32),
        generator=generator_config_from_official(
            official_generator_config(snapshot["G"].init_kwargs)),
        discriminator=discriminator_config_from_official(
            official_discriminator_config(snapshot["D"].init_kwargs))[1])
    trainer = Trainer(config, tf.distribute.get_strategy())
    assert initialise_from(trainer, path) == ["G_ema", "G", "D"]
    reference = np.load(path.with_suffix(".npz"))
    images = np.asarray(trainer.generator_ema.synthesis(reference["ws"], noise_mode="const"))
    np.testing.assert_allclose(images, reference["img"].transpose(0, 2, 3, 1), atol=1e-4)
    logits = np.asarray(trainer.discriminator(reference["img"].transpose(0, 2, 3, 1)))
    np.testing.assert_allclose(logits.reshape(-1), reference["logits"].reshape(-1), atol=1e-4)


def test_run_key_follows_the_sources_content(tmp_path):
    config = tiny_config()
    assert "init_from" not in trajectory_config(config)["train"]  # old run keys unchanged
    first, same, other = tmp_path / "a.keras", tmp_path / "b.keras", tmp_path / "c.keras"
    first.write_bytes(b"one")
    same.write_bytes(b"one")
    other.write_bytes(b"two")
    keys = [run_key(_with_init(config, path)) for path in (first, same, other)]
    assert keys[0] == keys[1] != keys[2]
    stored = trajectory_config(_with_init(config, first))["train"]["init_from"]
    assert json.dumps(stored).startswith('"sha256:')


def test_freeze_d_keeps_the_first_layers_of_the_starting_network(source, tmp_path):
    """Freeze-D: after fine-tuning with ``freeze_d: 3`` (the 16x16 block's fromrgb,
    conv0 and conv1, as the original counts layers), those weights are bit-identical to
    the starting network's; every other layer of D has moved."""
    config, folder, trained = source
    tuned_config = _with_init(config, folder)
    tuned_config = tuned_config.replace(train=tuned_config.train.replace(freeze_d=3))
    assert run_key(tuned_config) != run_key(_with_init(config, folder))
    tuned = run_training(tuned_config, synthetic_dataset_fn(BATCH), tmp_path, max_steps=2)
    start = {v.path: np.asarray(v) for v in trained.discriminator.weights}
    frozen = [layer.name for layer in tuned.discriminator.input_layers()[:3]]
    assert frozen == ["fromrgb", "conv0", "conv1"]
    for layer in tuned.discriminator.input_layers()[:3]:
        assert not layer.trainable
        for variable in layer.weights:
            np.testing.assert_array_equal(np.asarray(variable), start[variable.path])
    others = [layer for layer in tuned.discriminator.input_layers()[3:]] + [
        tuned.discriminator.epilogue.conv, tuned.discriminator.epilogue.fc,
        tuned.discriminator.epilogue.out]
    for layer in others:
        assert not np.array_equal(np.asarray(layer.kernel), start[layer.kernel.path]), layer.path


def test_freeze_d_beyond_the_blocks_layers_names_the_key(source):
    config, _, _ = source
    with pytest.raises(ConfigError, match=r"train.freeze_d: is 6, but the discriminator's "
                                          r"blocks have 5 layers"):
        Trainer(config.replace(train=config.train.replace(freeze_d=6)),
                tf.distribute.get_strategy())
