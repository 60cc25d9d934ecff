"""Damaged checkpoints and failed saves: fall back, or stop with one line; lose nothing."""

from __future__ import annotations

import logging
import resource
import signal

import numpy as np
import pytest
import tensorflow as tf
import yaml
from training_setup import tiny_config

from sfkeras.cli import main
from sfkeras.errors import OutputError, UnreadableCheckpointError
from sfkeras.models.generator import Generator
from sfkeras.saved.loader import load_generator
from sfkeras.saved.runs import run_checkpoint_dir, trajectory_config
from sfkeras.training.checkpoint import TrainingCheckpoint

MODEL = {"generator": {"hidden": [32, 16]}}
DATA = "ckpt-{}.data-00000-of-00001"


def _garbage_data(folder, step):
    path = folder / DATA.format(step)
    data = bytearray(path.read_bytes())
    data[:64] = bytes(255 - b for b in data[:64])
    path.write_bytes(bytes(data))


def _truncated_data(folder, step):
    path = folder / DATA.format(step)
    path.write_bytes(path.read_bytes()[:len(path.read_bytes()) // 3])


def _emptied_index(folder, step):
    (folder / f"ckpt-{step}.index").write_bytes(b"")


def _garbage_state(folder, step):
    (folder / "checkpoint").write_bytes(bytes(range(128, 256)))


def _text_garbage_state(folder, step):  # TensorFlow itself would read "no checkpoint"
    (folder / "checkpoint").write_text("this is not a checkpoint state\n")


NEWEST_DAMAGED = [_garbage_data, _truncated_data, _emptied_index]
STATE_DAMAGED = [_garbage_state, _text_garbage_state]


def _three_checkpoints(folder):
    value = tf.Variable(tf.zeros([256]))
    checkpoint = TrainingCheckpoint(folder, {"state": [value]}, MODEL, keep=3)
    for step in (1, 2, 3):
        value.assign(tf.fill([256], float(step)))
        checkpoint.save(step)
    return value


def _restore(folder, value):
    value.assign(tf.zeros_like(value))
    return TrainingCheckpoint(folder, {"state": [value]}, MODEL, keep=3).restore_latest()


@pytest.mark.parametrize("damage", NEWEST_DAMAGED)
def test_damaged_newest_checkpoint_falls_back_to_the_previous_with_a_warning(
        tmp_path, caplog, damage):
    value = _three_checkpoints(tmp_path)
    damage(tmp_path, 3)
    with caplog.at_level(logging.WARNING):
        restored = _restore(tmp_path, value)
    assert restored == str(tmp_path / "ckpt-2")
    np.testing.assert_array_equal(value.numpy(), 2.0)
    assert f"checkpoint {tmp_path / 'ckpt-3'} is unreadable" in caplog.text
    # The next save continues from ckpt-2 and replaces the damaged ckpt-3.
    checkpoint = TrainingCheckpoint(tmp_path, {"state": [value]}, MODEL, keep=3)
    assert checkpoint.latest == str(tmp_path / "ckpt-2")
    value.assign(tf.fill([256], 3.0))
    checkpoint.save(3)
    assert _restore(tmp_path, value) == str(tmp_path / "ckpt-3")
    np.testing.assert_array_equal(value.numpy(), 3.0)


@pytest.mark.parametrize("damage", STATE_DAMAGED)
def test_damaged_state_file_is_rebuilt_from_the_checkpoints_present(tmp_path, caplog, damage):
    value = _three_checkpoints(tmp_path)
    damage(tmp_path, 3)
    with caplog.at_level(logging.WARNING):
        assert _restore(tmp_path, value) == str(tmp_path / "ckpt-3")
    np.testing.assert_array_equal(value.numpy(), 3.0)
    assert "unreadable or missing: rebuilding it" in caplog.text
    assert tf.train.latest_checkpoint(str(tmp_path)) == str(tmp_path / "ckpt-3")


def test_no_readable_checkpoint_names_the_folder_and_the_fix(tmp_path):
    value = _three_checkpoints(tmp_path)
    for step in (1, 2, 3):
        _emptied_index(tmp_path, step)
    with pytest.raises(UnreadableCheckpointError,
                       match=rf"none of the 3 checkpoints in {tmp_path} can be read: move"):
        _restore(tmp_path, value)
    assert sorted(p.name for p in tmp_path.glob("*.index")) == [
        "ckpt-1.index", "ckpt-2.index", "ckpt-3.index"]  # nothing deleted


@pytest.fixture
def no_space_beyond():
    """Make writes past ``limit`` bytes fail with EFBIG, as on a full disk."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)

    def limit(size):
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, hard))

    yield limit
    resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    signal.signal(signal.SIGXFSZ, previous)


def test_failed_save_leaves_no_partial_files_and_the_earlier_checkpoints(tmp_path,
                                                                         no_space_beyond):
    value = tf.Variable(tf.ones([4096]))
    checkpoint = TrainingCheckpoint(tmp_path, {"state": [value]}, MODEL, keep=3)
    checkpoint.save(1)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    value.assign(tf.fill([4096], 2.0))
    no_space_beyond(4096)  # a 16 KiB tensor does not fit
    with pytest.raises(OutputError, match=r"cannot write checkpoint .*ckpt-2: .*earlier "
                                          r"checkpoints are untouched; free disk space"):
        checkpoint.save(2)
    no_space_beyond(resource.RLIM_INFINITY)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
    assert _restore(tmp_path, value) == str(tmp_path / "ckpt-1")
    np.testing.assert_array_equal(value.numpy(), 1.0)


@pytest.fixture
def run_with_two_generators(tmp_path):
    """A run folder whose checkpoints 1 and 2 hold two different G_ema weights."""
    config = tiny_config()
    generator = Generator(config.generator, seed=0, name="G_ema")
    folder = run_checkpoint_dir(tmp_path / "run", config)
    checkpoint = TrainingCheckpoint(folder, {"generator_ema": generator.variables},
                                    trajectory_config(config), keep=3)
    checkpoint.save(1)
    first = [np.asarray(v) for v in generator.variables]
    for variable in generator.trainable_variables:
        variable.assign(variable + 1.0)
    checkpoint.save(2)
    return config, tmp_path / "run", folder, first


def test_loading_a_run_falls_back_past_a_damaged_newest_checkpoint(run_with_two_generators,
                                                                  caplog):
    config, run, folder, first = run_with_two_generators
    _truncated_data(folder, 2)
    for run_config in (config, None):
        with caplog.at_level(logging.WARNING):
            generator = load_generator(run, run_config)
        for variable, expected in zip(generator.variables, first, strict=True):
            np.testing.assert_array_equal(np.asarray(variable), expected)
        assert f"checkpoint {folder / 'ckpt-2'} is unreadable" in caplog.text


def test_evaluate_a_run_without_readable_checkpoints_is_one_line(run_with_two_generators,
                                                                 tmp_path, capsys):
    config, run, folder, _ = run_with_two_generators
    for step in (1, 2):
        _garbage_data(folder, step)
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump(config.to_dict()))
    out = tmp_path / "eval"
    assert main(["evaluate", "--params", str(params), "--network", str(run),
                 "--out", str(out)]) == 4
    error = capsys.readouterr().err.strip().splitlines()
    assert error[-1] == (f"sfkeras: checkpoint error: none of the 2 checkpoints in {folder} "
                         "can be read: move the folder away to train from scratch, or "
                         "restore it from a backup")
    assert not (out / "metrics.json").exists()
