"""Step-for-step replay of the original's training loop (:mod:`sfkeras.training.replay`).

``trajectory16.npz`` (``../shared/fixtures``) and ``tests/fixtures/
trajectory_linformer32_resnet.npz`` (recorded here by ``benchmarks/record_trajectory.py``:
Styleformer-L, a ``resnet`` D, batch 4, Greg every 2 and Dreg every 4 steps, no EMA
ramp-up) hold a few steps of the original's training with every random input. The
entry point replays each through sfkeras's own trainer and must pass; a trajectory
whose recorded result is altered must fail, naming the tensor.
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

from sfkeras.training.replay import compare, load_trajectory, replay

pytestmark = [pytest.mark.platform, pytest.mark.tensorflow]

RECORDED = {
    "trajectory16": FIXTURES / "trajectory16.npz",
    "linformer32_resnet": REPO_ROOT / "tests" / "fixtures" / "trajectory_linformer32_resnet.npz",
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


@pytest.fixture(scope="module")
def replayed():
    trajectory = load_trajectory(_path("trajectory16"))
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
    arrays[key] = arrays[key] * 1.01
    altered = dataclasses.replace(trajectory, arrays=arrays)
    lines = {line.name: line for line in compare(altered, trainer, losses)}
    assert not lines["D"].passed and lines["D"].worst == "b8.conv0.weight"
    assert lines["G"].passed and lines["G_ema"].passed


def test_an_altered_loss_fails_and_is_named(replayed):
    trajectory, trainer, losses = replayed
    arrays = dict(trajectory.arrays)
    arrays["loss_r1"] = arrays["loss_r1"].copy()
    arrays["loss_r1"][16] *= 1.001
    altered = dataclasses.replace(trajectory, arrays=arrays)
    line = compare(altered, trainer, losses)[-1]
    assert line.name == "losses" and not line.passed and line.worst == "loss_r1[16]"
