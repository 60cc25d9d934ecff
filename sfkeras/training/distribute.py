"""Choice of the ``tf.distribute`` strategy and the per-replica batch."""

from __future__ import annotations

import json
import os

import tensorflow as tf


def select_strategy(name: str = "auto", cpu_replicas: int = 1) -> tf.distribute.Strategy:
    """The strategy that ``train.strategy`` and ``train.cpu_replicas`` name.

    Args:
        name: ``auto`` (multi-worker when ``TF_CONFIG`` names a cluster, otherwise
            mirrored over all local GPUs or, without GPUs and with ``cpu_replicas > 1``,
            over that many CPU devices, otherwise the default strategy on the CPU or
            the single GPU), ``mirrored`` (all local GPUs, or every logical CPU device
            when there is no GPU), ``multi_worker`` or ``default``.
        cpu_replicas: without GPUs, split the CPU into this many logical devices first
            (:func:`split_cpu`) for ``auto`` and ``mirrored``.
    """
    if name in ("auto", "mirrored") and cpu_replicas > 1 and not _gpus():
        split_cpu(cpu_replicas)
        name = "mirrored"
    if name == "auto":
        if _tf_config_has_cluster():
            name = "multi_worker"
        elif len(tf.config.list_logical_devices("GPU")) > 1:
            name = "mirrored"
        else:
            name = "default"
    if name == "multi_worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name == "mirrored":
        devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
        return tf.distribute.MirroredStrategy([device.name for device in devices])
    if name == "default":
        return tf.distribute.get_strategy()
    raise ValueError(f"train.strategy: unknown strategy {name!r}; choose auto, mirrored, "
                     "multi_worker or default")


def split_cpu(replicas: int) -> None:
    """Split the (first) physical CPU into ``replicas`` logical devices.

    Each logical device runs its ops on ``cores // replicas`` threads (TensorFlow's
    intra-op pool), and up to ``replicas`` ops run at once (the inter-op pool), so the
    replicas of a mirrored step compute side by side instead of sharing every op's
    threads. A no-op when the CPU is already split so.

    Raises:
        RuntimeError: TensorFlow has started (it fixes its devices and threads then)
            with another split.
    """
    cpu = tf.config.list_physical_devices("CPU")[0]
    if len(tf.config.get_logical_device_configuration(cpu) or [None]) == replicas:
        return
    try:
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * replicas)
        tf.config.threading.set_intra_op_parallelism_threads(max(1, _cores() // replicas))
        tf.config.threading.set_inter_op_parallelism_threads(replicas)
    except RuntimeError as error:
        raise RuntimeError(
            f"train.cpu_replicas = {replicas} splits the CPU into logical devices, which "
            "TensorFlow allows only before it starts, and it has started in this process: "
            "train in a fresh process (`sfkeras train`, stages/train.py) or set "
            "train.cpu_replicas to 1") from error


def per_replica_batch(strategy: tf.distribute.Strategy, global_batch: int) -> int:
    """``global_batch`` split evenly over the strategy's replicas (error otherwise)."""
    replicas = strategy.num_replicas_in_sync
    if global_batch % replicas:
        raise ValueError(f"train.batch_size: {global_batch} is not divisible by the "
                         f"{replicas} replicas; use a multiple of {replicas}")
    return global_batch // replicas


def is_chief() -> bool:
    """Whether this process writes files (worker 0, or the only process)."""
    config = json.loads(os.environ.get("TF_CONFIG", "{}") or "{}")
    task = config.get("task", {})
    return task.get("type", "chief") == "chief" or (
        task.get("type") == "worker" and task.get("index", 0) == 0
        and "chief" not in config.get("cluster", {}))


def _gpus() -> list:
    return tf.config.list_physical_devices("GPU")


def _cores() -> int:
    """CPU cores this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def _tf_config_has_cluster() -> bool:
    config = json.loads(os.environ.get("TF_CONFIG", "{}") or "{}")
    return bool(config.get("cluster"))
