"""Training under tf.distribute computes the update of a single-device run.

Each run is a subprocess (logical CPU devices and ``TF_CONFIG`` must be set before
TensorFlow starts) that trains two steps of a tiny model in float64 with constant synthesis
noise on synthetic data and saves its weights. The minibatch-stddev group (2) equals
the per-replica batch, and replicas take strided shares of the batch, so every
replica forms the same groups as the single device does.
"""

from __future__ import annotations

import json
import os
import pathlib
import socket
import subprocess
import sys

import numpy as np
import pytest

pytestmark = pytest.mark.slow  # several traced training runs

WORKER = pathlib.Path(__file__).with_name("training_worker.py")
TIMEOUT_S = 600


def _run(args, env=None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(WORKER), *map(str, args)],
                            env={**os.environ, **(env or {})}, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def _wait(process: subprocess.Popen) -> None:
    try:
        output, _ = process.communicate(timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
        pytest.fail(f"training worker timed out:\n{output[-3000:]}")
    assert process.returncode == 0, output[-3000:]


def _weights(path) -> dict[str, np.ndarray]:
    with np.load(path) as data:
        return {key: data[key] for key in data.files}


#: The workers train in float64: replicas sum gradients in another order than one
#: device, and in float32 Adam (which divides each gradient entry by its own running
#: magnitude) turns that rounding into a fraction of a step wherever a gradient is near
#: zero, by an amount that depends on the CPU's kernels (seen: 4e-6 to 5e-5 of weights
#: moving 2e-3 a step). In float64 replicas and one device agree to 1e-11 (seen).
FLOAT64_RTOL = 1e-9
FLOAT64_ATOL = 1e-12


def _assert_same_weights(a, b, rtol=FLOAT64_RTOL, atol=FLOAT64_ATOL):
    assert a.keys() == b.keys()
    for key in a:
        if key not in ("replicas", "intra_op_threads"):
            np.testing.assert_allclose(a[key], b[key], rtol=rtol, atol=atol, err_msg=key)


@pytest.fixture(scope="module")
def single_device(tmp_path_factory):
    folder = tmp_path_factory.mktemp("single")
    process = _run([folder / "run", folder / "weights.npz", "default"])
    _wait(process)
    return _weights(folder / "weights.npz")


def test_mirrored_two_replicas_equal_single_device(single_device, tmp_path):
    process = _run([tmp_path / "run", tmp_path / "weights.npz", "mirrored", 2])
    _wait(process)
    mirrored = _weights(tmp_path / "weights.npz")
    assert int(mirrored["replicas"]) == 2 and int(single_device["replicas"]) == 1
    _assert_same_weights(mirrored, single_device)


def test_cpu_replicas_split_the_cpu_and_equal_single_device(single_device, tmp_path):
    """``train.cpu_replicas: 2`` splits the CPU into two devices with half the threads
    each, before TensorFlow starts, and trains the update of one device."""
    process = _run([tmp_path / "run", tmp_path / "weights.npz", "cpu_replicas", 2])
    _wait(process)
    split = _weights(tmp_path / "weights.npz")
    assert int(split["replicas"]) == 2
    assert int(split["intra_op_threads"]) == max(1, len(os.sched_getaffinity(0)) // 2)
    _assert_same_weights(split, single_device)


def test_mirrored_random_noise_is_per_replica_and_deterministic(single_device, tmp_path):
    """Random synthesis noise is drawn per replica (so the update differs from the
    constant-noise one) from stateless seeds (so a rerun is bit-identical)."""
    processes = [_run([tmp_path / f"run{index}", tmp_path / f"weights{index}.npz",
                       "mirrored", 2, "random"]) for index in range(2)]
    for process in processes:
        _wait(process)
    first, second = (_weights(tmp_path / f"weights{index}.npz") for index in range(2))
    _assert_same_weights(first, second, rtol=0, atol=0)
    assert all(np.isfinite(value).all() for value in first.values())
    differs_from_constant_noise = [key for key in first if key != "replicas"
                                   and key != "intra_op_threads"
                                   and not np.allclose(first[key], single_device[key])]
    assert differs_from_constant_noise


def test_conditional_replicas_equal_single_device(tmp_path):
    """Real labels travel with their images and the generated images' labels are drawn
    for the global batch, so two replicas of a conditional run compute the update of
    one device."""
    runs = {name: _run([tmp_path / name, tmp_path / f"{name}.npz", strategy, cpus, "const", 3])
            for name, strategy, cpus in (("single", "default", 1), ("mirrored", "mirrored", 2))}
    for process in runs.values():
        _wait(process)
    single, mirrored = (_weights(tmp_path / f"{name}.npz") for name in runs)
    assert int(mirrored["replicas"]) == 2
    _assert_same_weights(mirrored, single)


def test_splitting_the_cpu_after_tensorflow_started_names_the_key_and_the_fix():
    import tensorflow as tf

    from sfkeras.training.distribute import split_cpu

    tf.constant(0.0)  # TensorFlow has started in this process, with one CPU device
    with pytest.raises(RuntimeError, match=r"train.cpu_replicas = 3 .* fresh process"):
        split_cpu(3)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_multi_worker_on_loopback_keeps_workers_identical(single_device, tmp_path):
    cluster = {"worker": [f"127.0.0.1:{_free_port()}", f"127.0.0.1:{_free_port()}"]}
    processes = []
    for index in range(2):
        tf_config = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})
        processes.append(_run([tmp_path / "run", tmp_path / f"weights{index}.npz", "auto"],
                              env={"TF_CONFIG": tf_config}))
    for process in processes:
        _wait(process)
    chief, worker = (_weights(tmp_path / f"weights{i}.npz") for i in range(2))
    assert int(chief["replicas"]) == 2
    _assert_same_weights(chief, worker, rtol=0, atol=0)
    _assert_same_weights(chief, single_device)
    assert (tmp_path / "run" / "G_ema.keras").exists()
