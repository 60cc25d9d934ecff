"""Choice of the ``tf.distribute`` strategy and the per-replica batch."""

from __future__ import annotations

import json
import os

import tensorflow as tf


def select_strategy(name: str = "auto") -> tf.distribute.Strategy:
    """The strategy that ``train.strategy`` names.

    Args:
        name: ``auto`` (multi-worker when ``TF_CONFIG`` names a cluster, otherwise
            mirrored over all local GPUs, otherwise the default strategy on the CPU
            or the single GPU), ``mirrored`` (all local GPUs, or every logical CPU
            device when there is no GPU), ``multi_worker`` or ``default``.
    """
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


def _tf_config_has_cluster() -> bool:
    config = json.loads(os.environ.get("TF_CONFIG", "{}") or "{}")
    return bool(config.get("cluster"))
