"""Checkpoints: config guard, atomic index, and stopping on non-finite losses."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from training_setup import synthetic_dataset_fn, tiny_config

from sfkeras.config import AugmentConfig
from sfkeras.errors import CheckpointMismatchError, TrainingDiverged
from sfkeras.saved.runs import run_checkpoint_dir
from sfkeras.training.checkpoint import TrainingCheckpoint
from sfkeras.training.run import run_training

MODEL = {"generator": {"w_dim": 32, "hidden": [32, 16]}, "discriminator": {"channel_max": 32}}


def test_save_and_restore_every_group(tmp_path):
    values = [tf.Variable([1.0, 2.0]), tf.Variable(3, dtype=tf.int64)]
    checkpoint = TrainingCheckpoint(tmp_path, {"state": values}, MODEL, keep=2)
    checkpoint.save(5)
    values[0].assign([0.0, 0.0])
    values[1].assign(0)
    assert checkpoint.restore_latest().endswith("ckpt-5")
    np.testing.assert_array_equal(values[0].numpy(), [1.0, 2.0])
    assert int(values[1].numpy()) == 3
    assert not list(tmp_path.glob("*_temp*"))  # shards were merged and the temp removed


def test_optional_groups_restore_without_warnings_and_may_be_absent(tmp_path, caplog):
    state, window = tf.Variable(1.0), tf.Variable([2.0, 3.0])
    TrainingCheckpoint(tmp_path, {"state": [state]}, MODEL, keep=2,
                       optional_groups={"window": [window]}).save(1)
    state.assign(0.0)
    window.assign([0.0, 0.0])
    with caplog.at_level("WARNING", logger="tensorflow"):
        TrainingCheckpoint(tmp_path, {"state": [state]}, MODEL, keep=2,
                           optional_groups={"window": [window]}).restore_latest()
        TrainingCheckpoint(tmp_path, {"state": [state]}, MODEL, keep=2).restore_latest()
    assert not [r for r in caplog.records if "unrestored" in r.getMessage()]
    assert float(state.numpy()) == 1.0 and window.numpy().tolist() == [2.0, 3.0]


def test_keeps_the_newest_checkpoints_and_ignores_unindexed_files(tmp_path):
    value = tf.Variable(0.0)
    checkpoint = TrainingCheckpoint(tmp_path, {"state": [value]}, MODEL, keep=2)
    for step in (1, 2, 3):
        value.assign(float(step))
        checkpoint.save(step)
    assert sorted(p.name for p in tmp_path.glob("ckpt-*.index")) == ["ckpt-2.index",
                                                                     "ckpt-3.index"]
    (tmp_path / "ckpt-4.index").write_bytes(b"interrupted write")  # never indexed
    value.assign(0.0)
    assert checkpoint.restore_latest().endswith("ckpt-3")
    assert float(value.numpy()) == 3.0


def test_refuses_other_model_config_naming_the_keys(tmp_path):
    TrainingCheckpoint(tmp_path, {"state": [tf.Variable(0.0)]}, MODEL, keep=1).save(1)
    other = {**MODEL, "generator": {"w_dim": 64, "hidden": [32, 16]}}
    checkpoint = TrainingCheckpoint(tmp_path, {"state": [tf.Variable(0.0)]}, other, keep=1)
    with pytest.raises(CheckpointMismatchError, match=r"w_dim: checkpoint 32, config 64"):
        checkpoint.restore_latest()


def _nan_after(steps: int, batch: int):
    """Synthetic data whose images become NaN from step ``steps`` on (one replica)."""
    base = synthetic_dataset_fn(batch)

    def dataset_fn(context):
        return base(context).enumerate().map(
            lambda index, images: tf.where(index >= steps, np.nan, images))

    return dataset_fn


@pytest.mark.slow
def test_non_finite_loss_stops_with_last_checkpoint_intact(tmp_path):
    """Two good steps (ADA raising p, a checkpoint after each), then NaN reals."""
    config = tiny_config(checkpoint_kimg=0.004, d_reg_interval=4)
    config = config.replace(augment=AugmentConfig(mode="ada", pipeline="blit", target=-1.0,
                                                  interval=1, kimg=0.01))
    with pytest.raises(TrainingDiverged, match=r"step 2: .*Dmain.*ckpt-2 is intact"):
        run_training(config, _nan_after(2, 4), tmp_path)
    latest = tf.train.latest_checkpoint(str(run_checkpoint_dir(tmp_path, config)))
    assert latest.endswith("ckpt-2")
    reader = tf.train.load_checkpoint(latest)
    names = {name for name, _ in tf.train.list_variables(latest)}
    p_name = next(n for n in names if n.startswith("state/3/"))  # [step, nimg, pl_mean, p, ...]
    assert reader.get_tensor(p_name) == pytest.approx(0.8)  # two ADA steps of 4 / 10
    step_name = next(n for n in names if n.startswith("state/0/"))
    assert reader.get_tensor(step_name) == 2
