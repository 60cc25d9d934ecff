"""Resuming from a checkpoint continues exactly where an uninterrupted run would be."""

from __future__ import annotations

import json

import numpy as np
import pytest
import tensorflow as tf
from training_setup import synthetic_dataset_fn, tiny_config

from sfkeras.training.checkpoint import CheckpointMismatchError
from sfkeras.training.loop import run_training

pytestmark = pytest.mark.slow  # several traced training runs

STEPS = 3
BATCH = 4


def _weights(trainer) -> list[np.ndarray]:
    networks = (trainer.generator, trainer.generator_ema, trainer.discriminator)
    values = [np.asarray(v) for network in networks for v in network.variables]
    values += [np.asarray(v) for v in trainer.g_optimizer.variables + trainer.d_optimizer.variables]
    return values


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """An interrupted run (STEPS, then resumed for STEPS more) and an uninterrupted one."""
    config = tiny_config(d_reg_interval=1, checkpoint_kimg=1.0)
    interrupted = tmp_path_factory.mktemp("interrupted")
    first = run_training(config, synthetic_dataset_fn(BATCH), interrupted, max_steps=STEPS)
    first_step = int(first.step.numpy())
    resumed = run_training(config, synthetic_dataset_fn(BATCH), interrupted, max_steps=STEPS)
    straight = run_training(config, synthetic_dataset_fn(BATCH),
                            tmp_path_factory.mktemp("straight"), max_steps=2 * STEPS)
    return config, interrupted, first_step, resumed, straight


def test_resumed_run_equals_uninterrupted_run(runs):
    _, _, first_step, resumed, straight = runs
    assert first_step == STEPS
    assert int(resumed.step.numpy()) == int(straight.step.numpy()) == 2 * STEPS
    assert int(resumed.cur_nimg.numpy()) == 2 * STEPS * BATCH
    for a, b in zip(_weights(resumed), _weights(straight), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_run_writes_checkpoints_config_logs_samples_and_model(runs):
    config, out_dir, *_ = runs
    checkpoints = out_dir / "checkpoints"
    assert tf.train.latest_checkpoint(str(checkpoints)).endswith(f"ckpt-{2 * STEPS}")
    stored = json.loads((checkpoints / "model_config.json").read_text())
    assert stored["generator"]["hidden"] == list(config.generator.hidden)
    assert (out_dir / "G_ema.keras").exists()
    assert list((out_dir / "samples").glob("fakes*.png"))
    assert (out_dir / "log" / "dvclive" / "plots" / "metrics" / "loss" / "G.tsv").exists()
    assert list((out_dir / "log" / "tensorboard").glob("events.out.tfevents*"))


def test_refuses_checkpoint_of_another_model(runs):
    config, out_dir, *_ = runs
    other = config.replace(generator=config.generator.replace(w_dim=16))
    with pytest.raises(CheckpointMismatchError, match="generator.w_dim"):
        run_training(other, synthetic_dataset_fn(BATCH), out_dir, max_steps=1)


def test_fresh_start_refuses_a_folder_with_checkpoints(runs):
    config, out_dir, *_ = runs
    with pytest.raises(FileExistsError, match="resume is off"):
        run_training(config, synthetic_dataset_fn(BATCH), out_dir, resume=False, max_steps=1)
