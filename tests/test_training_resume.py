"""Resuming continues exactly where an uninterrupted run would be; runs by config."""

from __future__ import annotations

import csv
import json
import shutil

import numpy as np
import pytest
import tensorflow as tf
from training_setup import synthetic_dataset_fn, tiny_config

from sfkeras.config import preset_config
from sfkeras.saved.loader import load_generator
from sfkeras.saved.runs import run_checkpoint_dir, run_key
from sfkeras.training import evaluation
from sfkeras.training.run import run_training

pytestmark = pytest.mark.slow  # several traced training runs

STEPS = 3
BATCH = 4


def _weights(trainer) -> list[np.ndarray]:
    networks = (trainer.generator, trainer.generator_ema, trainer.discriminator)
    values = [np.asarray(v) for network in networks for v in network.variables]
    values += [np.asarray(v) for v in trainer.g_optimizer.variables + trainer.d_optimizer.variables]
    return values


def _assert_same_weights(a, b):
    for x, y in zip(a.variables, b.variables, strict=True):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """An interrupted run (STEPS, then resumed for STEPS more) and an uninterrupted one.

    Also copies the interrupted folder after its first part (``copy``).
    """
    config = tiny_config(d_reg_interval=1, checkpoint_kimg=1.0)
    interrupted = tmp_path_factory.mktemp("interrupted")
    first = run_training(config, synthetic_dataset_fn(BATCH), interrupted, max_steps=STEPS)
    first_step = int(first.step.numpy())
    copy = tmp_path_factory.mktemp("copy") / "run"
    shutil.copytree(interrupted, copy)
    resumed = run_training(config, synthetic_dataset_fn(BATCH), interrupted, max_steps=STEPS)
    straight = run_training(config, synthetic_dataset_fn(BATCH),
                            tmp_path_factory.mktemp("straight"), max_steps=2 * STEPS)
    return config, interrupted, first_step, resumed, straight, copy


def test_resumed_run_equals_uninterrupted_run(runs):
    _, _, first_step, resumed, straight, _ = runs
    assert first_step == STEPS
    assert int(resumed.step.numpy()) == int(straight.step.numpy()) == 2 * STEPS
    assert int(resumed.cur_nimg.numpy()) == 2 * STEPS * BATCH
    for a, b in zip(_weights(resumed), _weights(straight), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_run_writes_checkpoints_config_logs_samples_and_model(runs):
    config, out_dir, *_ = runs
    checkpoints = out_dir / "checkpoints" / run_key(config)
    assert [p.name for p in (out_dir / "checkpoints").iterdir()] == [run_key(config)]
    assert tf.train.latest_checkpoint(str(checkpoints)).endswith(f"ckpt-{2 * STEPS}")
    stored = json.loads((checkpoints / "run_config.json").read_text())
    assert stored["generator"]["hidden"] == list(config.generator.hidden)
    assert stored["train"]["r1_gamma"] == config.train.r1_gamma
    assert "kimg" not in stored["train"] and "checkpoint_kimg" not in stored["train"]
    assert (out_dir / "G_ema.keras").exists()
    assert list((out_dir / "samples").glob("fakes*.png"))
    assert (out_dir / "log" / "dvclive" / "plots" / "metrics" / "loss" / "G.tsv").exists()
    assert list((out_dir / "log" / "tensorboard").glob("events.out.tfevents*"))


def test_run_key_ignores_length_and_run_management_only():
    config = tiny_config()
    managed = config.replace(train=config.train.replace(
        kimg=5.0, checkpoint_kimg=1.0, keep_checkpoints=9, snapshot_kimg=2.0,
        metrics_kimg=3.0, log_kimg=0.5))
    assert run_key(managed) == run_key(config)
    assert len(run_key(config)) == 12
    for other in (config.replace(train=config.train.replace(r1_gamma=2.0)),
                  config.replace(train=config.train.replace(seed=1)),
                  config.replace(generator=config.generator.replace(hidden=(32, 32))),
                  config.replace(data=config.data.replace(name="other")),
                  config.replace(augment=config.augment.replace(mode="fixed"))):
        assert run_key(other) != run_key(config)


@pytest.mark.parametrize("preset, key", [("shapes16", "408555532e53"),
                                         ("cifar10", "029632fa2543"),
                                         ("one_layer", "7e9e07dcd97b")])
def test_run_keys_of_existing_runs_stay_as_they_were(preset, key):
    """New configuration keys at their defaults (the paper's ablation switches, snapshot
    keeping) leave the run keys of earlier versions, so their runs still resume."""
    config = preset_config(preset)
    assert run_key(config) == key
    variant = config.replace(generator=config.generator.replace(layer_norm="post"))
    assert run_key(variant) != key
    managed = config.replace(train=config.train.replace(keep_snapshots=2))
    assert run_key(managed) == key


def test_longer_run_resumes_the_same_run(runs, capsys):
    """A larger ``train.kimg`` continues the checkpoint of the same trajectory."""
    config, _, _, _, _, copy = runs
    longer = config.replace(train=config.train.replace(kimg=2.0))
    trainer = run_training(longer, synthetic_dataset_fn(BATCH), copy, max_steps=1)
    assert int(trainer.step.numpy()) == STEPS + 1
    assert f"resuming from {run_checkpoint_dir(copy, config)}" in capsys.readouterr().out


def test_changed_recipe_starts_a_new_run_beside_the_old(runs, capsys):
    config, _, _, _, _, copy = runs
    other = config.replace(train=config.train.replace(r1_gamma=2.0))
    old = tf.train.latest_checkpoint(str(run_checkpoint_dir(copy, config)))
    trainer = run_training(other, synthetic_dataset_fn(BATCH), copy, max_steps=1)
    assert int(trainer.step.numpy()) == 1
    assert f"starting a new run in {run_checkpoint_dir(copy, other)}" in capsys.readouterr().out
    assert tf.train.latest_checkpoint(str(run_checkpoint_dir(copy, other))).endswith("ckpt-1")
    assert tf.train.latest_checkpoint(str(run_checkpoint_dir(copy, config))) == old
    # The newest checkpoint of any run is the new one; the config picks its own run.
    _assert_same_weights(load_generator(copy), trainer.generator_ema)
    assert int(load_generator(copy, config).synthesis.variables[0].shape[0]) > 0


def test_loading_a_run_gives_g_ema_of_its_newest_checkpoint(runs):
    config, out_dir, _, resumed, *_ = runs
    generator = load_generator(out_dir, config)
    assert generator.name == "G_ema"
    _assert_same_weights(generator, resumed.generator_ema)
    z = np.random.default_rng(0).normal(size=(2, config.generator.z_dim)).astype(np.float32)
    np.testing.assert_allclose(generator(z, noise_mode="const"),
                               resumed.generator_ema(z, noise_mode="const"), rtol=1e-6)
    with pytest.raises(FileNotFoundError, match="no checkpoint of this configuration"):
        load_generator(out_dir, config.replace(
            train=config.train.replace(r1_gamma=3.0)))


def test_fresh_start_refuses_a_folder_with_checkpoints(runs):
    config, out_dir, *_ = runs
    with pytest.raises(FileExistsError, match="resume is off"):
        run_training(config, synthetic_dataset_fn(BATCH), out_dir, resume=False, max_steps=1)


def test_metrics_at_start_of_fresh_run_not_on_resume(tmp_path, monkeypatch):
    """Evaluated at kimg 0 of a fresh run, then every metrics_kimg; not again on resume."""
    evaluated_at = []

    def fake_evaluate(trainer, metrics):
        evaluated_at.append(int(trainer.cur_nimg.numpy()))
        return {"fake": 1.0}

    monkeypatch.setattr(evaluation, "evaluate_ema", fake_evaluate)
    monkeypatch.setattr(evaluation, "training_protocol", lambda *args: {"metrics": ["fake"]})
    config = tiny_config(metrics_kimg=0.008)
    run_training(config, synthetic_dataset_fn(BATCH), tmp_path, max_steps=2,
                 metrics_dataset_path="unused")
    assert evaluated_at == [0, 2 * BATCH]
    run_training(config, synthetic_dataset_fn(BATCH), tmp_path, max_steps=1,
                 metrics_dataset_path="unused")
    assert evaluated_at == [0, 2 * BATCH]
    logged = (tmp_path / "log" / "dvclive" / "plots" / "metrics" / "metrics" / "fake.tsv")
    rows = list(csv.DictReader(logged.read_text().splitlines(), delimiter="\t"))
    assert [float(row["step"]) for row in rows] == [0.0, 2 * BATCH / 1000]
