"""Training faults: a locked run folder, divergence, signals, kill -9; the resnet D trains.

The signal and kill tests run ``sfkeras train`` as a real process on a tiny prepared data
set and act on the lines it prints (``saved checkpoint ...``), never on timing.
"""

from __future__ import annotations

import csv
import os
import pathlib
import signal
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from training_setup import synthetic_dataset_fn, tiny_config

from sfkeras.cli import main
from sfkeras.config import config_from_params, load_config, preset_params_yaml
from sfkeras.config.data import DataConfig, ShapesSourceConfig
from sfkeras.data import prepare_dataset
from sfkeras.errors import EXIT_INTERRUPTED, TrainingDiverged
from sfkeras.saved.runs import run_checkpoint_dir
from sfkeras.training.run import run_training
from sfkeras.training.run_lock import run_folder_lock

TIMEOUT_S = 600
PRESET = "shapes16"
PARAMS = {
    "data": {"name": "shapes", "resolution": 16},
    "generator": {"resolution": 16, "num_layers": [1, 1], "hidden": [32, 16], "depth": 16,
                  "z_dim": 16, "w_dim": 16, "linformer": False},
    "discriminator": {"channel_base": 256, "channel_max": 16},
    "train": {"kimg": 0.4, "batch_size": 4, "checkpoint_kimg": 0.004, "log_kimg": 0.012,
              "snapshot_kimg": 1.0, "metrics_kimg": 0.0, "strategy": "default",
              "cpu_replicas": 1, "d_reg_interval": 2},
}


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> pathlib.Path:
    config = DataConfig(name="shapes", resolution=16,
                        shapes=ShapesSourceConfig(num_train=32, num_test=4))
    return prepare_dataset(config, tmp_path_factory.mktemp("prepared"), progress=False)


def _params(folder: pathlib.Path, **train) -> pathlib.Path:
    params = {**PARAMS, "train": {**PARAMS["train"], **train}}
    path = folder / "params.yaml"
    path.write_text(preset_params_yaml(PRESET, params))
    return path


def _start(params: pathlib.Path, data: pathlib.Path, run: pathlib.Path, *extra: str):
    """``sfkeras train`` in a fresh process, its stdout as lines."""
    command = [sys.executable, "-m", "sfkeras.cli", "train", "--params", str(params),
               "--data", str(data), "--out", str(run), *extra]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})


def _wait_for_line(process: subprocess.Popen, text: str) -> list[str]:
    """Read stdout up to (and including) the first line containing ``text``."""
    lines = []
    for line in process.stdout:
        lines.append(line.rstrip("\n"))
        if text in line:
            return lines
    process.wait(TIMEOUT_S)
    pytest.fail(f"`{text}` never printed (rc {process.returncode}):\n" + "\n".join(lines)
                + process.stderr.read()[-3000:])


def _finish(process: subprocess.Popen) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=TIMEOUT_S)
    return process.returncode, out, err


def _latest_step(run: pathlib.Path, params: pathlib.Path) -> int:
    config = load_config(params)
    latest = tf.train.latest_checkpoint(str(run_checkpoint_dir(run, config)))
    return int(latest.rsplit("-", 1)[1])


# --- the run-folder lock ----------------------------------------------------------------

def test_second_training_into_a_locked_folder_stops_at_once(prepared, tmp_path, capsys):
    run = tmp_path / "run"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys; from sfkeras.training.run_lock import "
         "run_folder_lock\nwith run_folder_lock(sys.argv[1]):\n print('locked', flush=True)"
         "\n sys.stdin.read()", str(run)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        code = main(["train", "--params", str(_params(tmp_path)), "--data", str(prepared),
                     "--out", str(run)])
        assert code == 8
        assert capsys.readouterr().err.strip().splitlines()[-1] == (
            f"sfkeras: run folder in use: {run} is in use by another training process "
            f"(pid {holder.pid}): wait for it to finish or stop it, or train into another "
            "folder (--out)")
        assert sorted(p.name for p in run.iterdir()) == [".lock"]  # nothing else written
    finally:
        holder.kill()  # SIGKILL: the lock must go with the process
        holder.wait()
    with run_folder_lock(run):
        pass


# --- divergence ---------------------------------------------------------------------------

def test_huge_learning_rates_trip_the_divergence_guard_keeping_the_good_checkpoint(tmp_path):
    config = tiny_config(g_lr=1e6, d_lr=1e6, checkpoint_kimg=0.004, divergence_steps=3)
    assert config.train.divergence_loss == 1e4  # the default bound
    with pytest.raises(TrainingDiverged, match=r"losses beyond train.divergence_loss = "
                       r"10000 for 3 consecutive steps .*at step 3: .*the last checkpoint "
                       r".*ckpt-1 is intact") as error:
        run_training(config, synthetic_dataset_fn(4), tmp_path)
    assert error.value.exit_code == 5
    checkpoints = run_checkpoint_dir(tmp_path, config)
    assert sorted(p.name for p in checkpoints.glob("*.index")) == ["ckpt-1.index"]
    assert tf.train.latest_checkpoint(str(checkpoints)).endswith("ckpt-1")
    assert not (tmp_path / "G_ema.keras").exists()


# --- the resnet discriminator ---------------------------------------------------------------

@pytest.mark.slow  # the preset's ADA, path-length and R1 phases are traced
def test_celeba_resnet_discriminator_trains_a_few_steps_at_tiny_size(tmp_path):
    """The paper's main presets use the resnet D, whose down-sampling once needed oneDNN."""
    config = config_from_params({
        "preset": "celeba", "data": {"resolution": 16},
        "generator": {"resolution": 16, "num_layers": [1, 1], "hidden": [32, 16],
                      "depth": 16, "z_dim": 16, "w_dim": 16, "linformer": False},
        "discriminator": {"channel_base": 256, "channel_max": 16},
        "train": {"batch_size": 4, "strategy": "default", "cpu_replicas": 1,
                  "metrics_kimg": 0.0, "xla": False, "mixed_precision": False}})
    assert config.discriminator.architecture == "resnet"
    trainer = run_training(config, synthetic_dataset_fn(4), tmp_path, max_steps=2)
    assert int(trainer.step.numpy()) == 2
    assert all(np.isfinite(np.asarray(v)).all() for v in trainer.discriminator.variables)


# --- SIGINT / SIGTERM ---------------------------------------------------------------------

@pytest.mark.slow
def test_sigint_and_sigterm_save_a_checkpoint_and_exit_130_then_resume(prepared, tmp_path):
    params, run = _params(tmp_path), tmp_path / "run"
    process = _start(params, prepared, run)
    _wait_for_line(process, "/ckpt-1")
    process.send_signal(signal.SIGINT)
    code, _, err = _finish(process)
    step = _latest_step(run, params)
    assert code == EXIT_INTERRUPTED, err[-3000:]
    assert err.strip().splitlines()[-1].startswith(
        f"sfkeras: interrupted: SIGINT at step {step}: stopped after the step, checkpoint ")
    assert err.strip().endswith(f"ckpt-{step} saved; run the same command to resume")
    assert step >= 1  # the step running when the signal came (if any) was finished
    assert not (run / "G_ema.keras").exists()
    assert (run / "log" / "dvclive" / "metrics.json").exists()  # the logs were closed

    process = _start(params, prepared, run)
    lines = _wait_for_line(process, f"/ckpt-{step + 1}")
    assert any(line.startswith("resuming from ") and line.endswith(f"ckpt-{step} at kimg "
                                                                 f"{step * 4 / 1000:g}")
               for line in lines)
    process.send_signal(signal.SIGTERM)
    code, _, err = _finish(process)
    assert code == EXIT_INTERRUPTED, err[-3000:]
    assert f"SIGTERM at step {_latest_step(run, params)}" in err
    assert _latest_step(run, params) > step


# --- kill -9 ------------------------------------------------------------------------------

def _checkpoint_tensors(run: pathlib.Path, params: pathlib.Path) -> dict[str, np.ndarray]:
    config = load_config(params)
    latest = tf.train.latest_checkpoint(str(run_checkpoint_dir(run, config)))
    reader = tf.train.load_checkpoint(latest)
    return {name: reader.get_tensor(name) for name, _ in tf.train.list_variables(latest)
            if not name.startswith("save_counter")}


def _loss_rows(run: pathlib.Path) -> list[dict[str, str]]:
    path = run / "log" / "dvclive" / "plots" / "metrics" / "loss" / "G.tsv"
    return list(csv.DictReader(path.read_text().splitlines(), delimiter="\t"))


@pytest.mark.slow
def test_kill_9_then_rerun_resumes_bit_exactly_with_dvclive_rows_intact(prepared, tmp_path):
    """Killed after the checkpoint of step 2 (log rows every 3 steps), then rerun to the
    end: the same weights, bit for bit, and the same loss rows as a run never killed."""
    params = _params(tmp_path, kimg=0.024)  # 6 steps
    killed, straight = tmp_path / "killed", tmp_path / "straight"
    uninterrupted = _start(params, prepared, straight)
    process = _start(params, prepared, killed)
    _wait_for_line(process, "/ckpt-2")
    process.kill()
    process.wait(TIMEOUT_S)
    assert process.returncode == -signal.SIGKILL
    code, out, err = _finish(_start(params, prepared, killed))  # the lock went with it
    assert code == 0, err[-3000:]
    assert "resuming from " in out
    code, _, err = _finish(uninterrupted)
    assert code == 0, err[-3000:]

    assert _latest_step(killed, params) == _latest_step(straight, params) == 6
    resumed, reference = (_checkpoint_tensors(run, params) for run in (killed, straight))
    assert resumed.keys() == reference.keys()
    for name in reference:
        np.testing.assert_array_equal(resumed[name], reference[name], err_msg=name)
    # Each row is the mean over the steps since the previous row: the first row after
    # the resume averages only the steps run since (step 3), the next ones are equal.
    rows, reference_rows = _loss_rows(killed), _loss_rows(straight)
    assert [row["step"] for row in rows] == [row["step"] for row in reference_rows] == [
        "0.012", "0.024"]
    assert rows[1] == reference_rows[1]
