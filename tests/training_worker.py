"""Runs a few training steps in a fresh process (distribution tests) and saves weights.

Usage: ``python training_worker.py OUT_DIR WEIGHTS_NPZ STRATEGY [LOGICAL_CPUS
[NOISE_MODE [C_DIM]]]``; ``STRATEGY`` is ``default``, ``mirrored`` or ``multi_worker``
(``TF_CONFIG`` set by the caller), or ``cpu_replicas``: ``train.cpu_replicas =
LOGICAL_CPUS`` with ``strategy: auto``, which lets training split the CPU itself;
``NOISE_MODE`` is ``const`` (default) or ``random``; ``C_DIM`` > 0 trains
class-conditional networks on uniformly labelled data. Logical CPU devices must be
configured before TensorFlow starts, hence the separate process.
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

STEPS = 2
BATCH = 4


def main(out_dir: str, weights_path: str, strategy_name: str, cpus: int = 1,
         noise_mode: str = "const", c_dim: int = 0) -> None:
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from training_setup import synthetic_dataset_fn, tiny_config

    from sfkeras.models.generator import global_dtype_policy
    from sfkeras.training.distribute import select_strategy
    from sfkeras.training.run import run_training

    if strategy_name == "cpu_replicas":
        config = tiny_config(c_dim, strategy="auto", cpu_replicas=cpus, d_reg_interval=2,
                             batch_size=BATCH)
        strategy = None  # run_training selects it from the config
    else:
        physical = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            physical, [tf.config.LogicalDeviceConfiguration()] * cpus)
        config = tiny_config(c_dim, strategy=strategy_name, d_reg_interval=2,
                             batch_size=BATCH)
        strategy = select_strategy(strategy_name)
    with global_dtype_policy("float64"):  # the comparisons must not depend on rounding
        trainer = run_training(config, synthetic_dataset_fn(BATCH, c_dim=c_dim), out_dir,
                               max_steps=STEPS, strategy=strategy, noise_mode=noise_mode,
                               label_distribution=np.full(c_dim, 1 / c_dim) if c_dim else None)
    networks = (trainer.generator, trainer.generator_ema, trainer.discriminator)
    weights = {f"{i}": np.asarray(v) for i, v in
               enumerate(v for network in networks for v in network.trainable_variables)}
    weights["w_avg"] = np.asarray(trainer.generator.mapping.w_avg)
    weights["replicas"] = np.asarray(trainer.strategy.num_replicas_in_sync)
    weights["intra_op_threads"] = np.asarray(
        tf.config.threading.get_intra_op_parallelism_threads())
    np.savez(weights_path, **weights)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], *map(int, sys.argv[4:5]), *sys.argv[5:6],
         *map(int, sys.argv[6:7]))
