"""Step-for-step replay of the original's training loop (:mod:`sfkeras.training.replay`).

Three recordings of the original's training, with every random input:
``trajectory16.npz`` (``../shared/fixtures``: 17 steps, float32), the same steps
recorded here in float64 (``tests/fixtures/trajectory16_float64.npz``) and
``tests/fixtures/trajectory_linformer32_resnet.npz`` (float64: Styleformer-L, a
``resnet`` D, batch 4, Greg every 2 and Dreg every 4 steps, no EMA ramp-up), both by
``benchmarks/record_trajectory.py``. The entry point replays each through sfkeras's own
trainer in float64, so the verdict does not depend on the CPU's kernels, and must pass
at the bounds of the recording's dtype; a recording whose result is altered, or a
replay with a wrong learning rate, must fail, naming the tensor or the loss.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest
from conftest import FIXTURES, REPO_ROOT

from sfkeras.training.replay import TOLERANCES, compare, load_trajectory, replay, replay_config

pytestmark = [pytest.mark.platform, pytest.mark.tensorflow]

HERE = REPO_ROOT / "tests" / "fixtures"
RECORDED = {
    "trajectory16": FIXTURES / "trajectory16.npz",
    "trajectory16_float64": HERE / "trajectory16_float64.npz",
    "linformer32_resnet": HERE / "trajectory_linformer32_resnet.npz",
}


def _path(name: str) -> pathlib.Path:
    path = RECORDED[name]
    if not path.exists():
        pytest.skip(f"trajectory {path} is absent (needs ../shared beside the repo)")
    return path


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(RECORDED))
def test_replay_entry_point_passes(name):
    result = subprocess.run(
        [sys.executable, "-m", "sfkeras.training.replay", str(_path(name))],
        capture_output=True, text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    lines = result.stdout.splitlines()
    assert result.returncode == 0, result.stdout + result.stderr[-2000:]
    assert [line.split()[0] for line in lines] == ["G", "G_ema", "D", "pl_mean", "losses"]
    assert all(line.endswith("ok") for line in lines), result.stdout


def test_the_bounds_follow_the_recording_dtype():
    assert load_trajectory(_path("trajectory16")).dtype == "float32"
    assert load_trajectory(_path("trajectory16_float64")).dtype == "float64"
    assert TOLERANCES["float64"].weights < TOLERANCES["float32"].weights / 100


@pytest.fixture(scope="module")
def replayed():
    trajectory = load_trajectory(_path("trajectory16_float64"))
    trainer, losses = replay(trajectory)
    return trajectory, trainer, losses


def test_replay_reports_each_loss_where_the_original_ran_its_phase(replayed):
    trajectory, _, losses = replayed
    for name, ours in losses.items():
        np.testing.assert_array_equal(np.isnan(ours), np.isnan(trajectory.arrays[name]), name)


def test_an_altered_final_tensor_fails_and_is_named(replayed):
    trajectory, trainer, losses = replayed
    key = "final/D/b8.conv0.weight"
    arrays = dict(trajectory.arrays)
    arrays[key] = arrays[key] * 1.0001
    altered = dataclasses.replace(trajectory, arrays=arrays)
    lines = {line.name: line for line in compare(altered, trainer, losses)}
    assert not lines["D"].passed and lines["D"].worst == "b8.conv0.weight"
    assert lines["G"].passed and lines["G_ema"].passed


def test_an_altered_loss_fails_and_is_named(replayed):
    trajectory, trainer, losses = replayed
    arrays = dict(trajectory.arrays)
    arrays["loss_G"] = arrays["loss_G"].copy()
    arrays["loss_G"][8] *= 1 + 1e-5
    altered = dataclasses.replace(trajectory, arrays=arrays)
    line = compare(altered, trainer, losses)[-1]
    assert line.name == "losses" and not line.passed and line.worst == "loss_G[8]"


def test_a_slightly_wrong_learning_rate_fails(replayed):
    """0.1% more learning rate moves G and D far outside the float64 bounds."""
    trajectory = replayed[0]
    config = replay_config(trajectory)
    wrong = dataclasses.replace(config, train=dataclasses.replace(
        config.train, g_lr=config.train.g_lr * 1.001, d_lr=config.train.d_lr * 1.001))
    trainer, losses = replay(trajectory, config=wrong)
    lines = {line.name: line for line in compare(trajectory, trainer, losses)}
    assert not lines["G"].passed and not lines["D"].passed
