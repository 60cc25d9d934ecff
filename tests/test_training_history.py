"""A run's logs, samples and snapshots survive interruptions and extensions: each kimg
once."""

from __future__ import annotations

import csv
import json
import random
import warnings

import numpy as np
import pytest
import tensorflow as tf
from tensorflow.core.util import event_pb2
from training_setup import synthetic_dataset_fn, tiny_config

from sfkeras.training import evaluation, run, trainer
from sfkeras.training.run import run_training
from sfkeras.training.snapshots import snapshot_name, snapshot_nimg

pytestmark = pytest.mark.slow  # several traced training runs

BATCH = 4  # images per step: 0.004 kimg


class Killed(Exception):
    """Stands for SIGKILL: nothing after the raising step runs (no final checkpoint)."""


def _fake_fid(trainer, metrics) -> dict[str, float]:
    """An FID (the first metric of ``evaluate.metrics``) that is lowest after 8 images."""
    return {trainer.config.evaluate.metrics[0]: abs(int(trainer.cur_nimg.numpy()) - 8) + 1.0}


@pytest.fixture(autouse=True)
def fake_metrics(monkeypatch):
    monkeypatch.setattr(evaluation, "evaluate_ema", _fake_fid)
    monkeypatch.setattr(evaluation, "training_protocol", lambda *args: {"metrics": ["fid2k"]})
    monkeypatch.setattr(run, "record_final_metrics", lambda *args: None)


def _kill_at_call(monkeypatch, call: int) -> None:
    run_step, calls = trainer.Trainer.run_step, []

    def killed_run_step(self, reals):
        calls.append(1)
        if len(calls) == call:
            raise Killed
        return run_step(self, reals)

    monkeypatch.setattr(trainer.Trainer, "run_step", killed_run_step)


def _steps(out_dir, metric: str) -> list[float]:
    table = out_dir / "log" / "dvclive" / "plots" / "metrics" / f"{metric}.tsv"
    with table.open() as stream:
        return [float(row["step"]) for row in csv.DictReader(stream, delimiter="\t")]


def _tensorboard_steps(out_dir, tag: str) -> list[int]:
    steps = []
    for path in sorted((out_dir / "log" / "tensorboard").glob("events.out.tfevents.*")):
        for record in tf.data.TFRecordDataset(str(path)):
            event = event_pb2.Event.FromString(record.numpy())
            steps += [event.step for value in event.summary.value if value.tag == tag]
    return steps


def _samples(out_dir) -> list[int]:
    return sorted(int(p.stem[5:]) for p in (out_dir / "samples").glob("fakes*.png"))


def _snapshots(out_dir) -> list[int]:
    """The image counts of the run's snapshots (each with its metrics record)."""
    folder = out_dir / "snapshots"
    snapshots = sorted(folder.glob("network-snapshot-*.keras"), key=snapshot_nimg)
    records = sorted(folder.glob("network-snapshot-*.metrics.json"))
    assert [r.name.replace(".metrics.json", ".keras") for r in records] == \
        sorted(p.name for p in snapshots)
    assert not list(folder.glob(".*")), "temporary files left behind"
    return [snapshot_nimg(path) for path in snapshots]


def _best(out_dir) -> str:
    return json.loads((out_dir / "G_best.metrics.json").read_text())["snapshot"]


def _run(config, out_dir, kimg):
    config = config.replace(train=config.train.replace(kimg=kimg))
    return run_training(config, synthetic_dataset_fn(BATCH), out_dir,
                        metrics_dataset_path="unused")


def test_kill_after_a_checkpoint_then_resume_and_extend(tmp_path, monkeypatch):
    # Log and snapshot every step, checkpoint and evaluate every two steps.
    config = tiny_config(log_kimg=0.004, snapshot_kimg=0.004, checkpoint_kimg=0.008,
                         metrics_kimg=0.008, r1_gamma=0.0)  # r1 off: one traced step
    with monkeypatch.context() as patch:
        _kill_at_call(patch, 4)  # after step 3: its rows are past the checkpoint (step 2)
        with pytest.raises(Killed):
            _run(config, tmp_path, kimg=0.016)
    assert _steps(tmp_path, "loss/G") == [0.004, 0.008, 0.012]
    assert _samples(tmp_path) == [4, 8, 12]
    assert _snapshots(tmp_path) == [0, 8]

    _run(config, tmp_path, kimg=0.016)  # resumes at 0.008
    assert _steps(tmp_path, "metrics/fid2k") == [0.0, 0.008, 0.016]
    assert _snapshots(tmp_path) == [0, 8, 16]
    assert _best(tmp_path) == snapshot_name(8)
    assert _steps(tmp_path, "loss/G") == [0.004, 0.008, 0.012, 0.016]
    assert _tensorboard_steps(tmp_path, "loss/G") == [4, 8, 12, 16]
    assert _tensorboard_steps(tmp_path, "metrics/fid2k") == [0, 8, 16]
    assert _samples(tmp_path) == [4, 8, 12, 16]

    _run(config, tmp_path, kimg=0.024)  # a longer run continues the same history
    assert _steps(tmp_path, "metrics/fid2k") == [0.0, 0.008, 0.016, 0.024]
    assert _steps(tmp_path, "loss/G") == [0.004, 0.008, 0.012, 0.016, 0.020, 0.024]
    assert _tensorboard_steps(tmp_path, "loss/G") == [4, 8, 12, 16, 20, 24]
    assert _samples(tmp_path) == [4, 8, 12, 16, 20, 24]
    assert _snapshots(tmp_path) == [0, 8, 16, 24]
    summary = (tmp_path / "log" / "dvclive" / "metrics.json").read_text()
    assert '"step": 0.024' in summary

    other = config.replace(train=config.train.replace(seed=1))  # another run: a new history
    _run(other, tmp_path, kimg=0.004)
    assert _steps(tmp_path, "loss/G") == [0.004]
    assert _steps(tmp_path, "metrics/fid2k") == [0.0, 0.004]
    assert _tensorboard_steps(tmp_path, "loss/G") == [4]
    assert _samples(tmp_path) == [4]
    assert _snapshots(tmp_path) == [0, 4]
    assert _best(tmp_path) == snapshot_name(4)


def _logs(out_dir) -> dict[str, bytes]:
    """Every dvclive table of a run but the timings, by path."""
    folder = out_dir / "log" / "dvclive" / "plots" / "metrics"
    return {str(path.relative_to(folder)): path.read_bytes() for path in folder.rglob("*.tsv")
            if "timing" not in path.parts}


def test_logs_after_kills_at_random_steps_equal_an_uninterrupted_run(tmp_path, monkeypatch):
    # Log every 2 steps, checkpoint every 3: a resumed run must carry on the open window
    # of statistics that its checkpoint saved, not start one afresh.
    config = tiny_config(log_kimg=0.008, checkpoint_kimg=0.012, snapshot_kimg=0.016,
                         metrics_kimg=0.016)
    kimg = 0.056  # 14 steps
    uninterrupted = _run(config, tmp_path / "once", kimg)
    kills = random.Random(0)
    for _ in range(3):
        with monkeypatch.context() as patch:
            _kill_at_call(patch, kills.randint(2, 5))
            with pytest.raises(Killed):
                _run(config, tmp_path / "killed", kimg)
    resumed = _run(config, tmp_path / "killed", kimg)
    assert _logs(tmp_path / "killed") == _logs(tmp_path / "once")
    assert _snapshots(tmp_path / "killed") == _snapshots(tmp_path / "once") == [0, 16, 32, 48, 56]
    for name in ("G_best.metrics.json", *(f"snapshots/{snapshot_name(n)[:-6]}.metrics.json"
                                          for n in (0, 16, 32, 48, 56))):
        once, killed = (json.loads((tmp_path / d / name).read_text()) for d in ("once", "killed"))
        assert killed["results"] == once["results"] and killed["snapshot"] == once["snapshot"]
    assert {"loss/G.tsv", "loss/D.tsv", "loss/r1_penalty.tsv"} <= set(_logs(tmp_path / "once"))
    for ours, theirs in zip(resumed.generator_ema.weights, uninterrupted.generator_ema.weights,
                            strict=True):
        np.testing.assert_array_equal(ours, theirs)


def test_progress_bar_ends_where_training_does(tmp_path):
    """A length that is no multiple of the batch ends one step past ``train.kimg``: the
    bar's total is that step, not more than 100% (tqdm would warn)."""
    from tqdm import TqdmWarning

    config = tiny_config(log_kimg=0.004, snapshot_kimg=0.004, checkpoint_kimg=0.004,
                         metrics_kimg=0.0, r1_gamma=0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", TqdmWarning)
        trainer = _run(config, tmp_path, kimg=0.006)  # 2 steps of 4 images
    assert int(trainer.cur_nimg.numpy()) == 8
    assert (tmp_path / "snapshots").is_dir() and (tmp_path / "G_best.keras").is_file()
