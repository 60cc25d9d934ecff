"""Training throughput (images/s) of full StyleGAN2-ADA iterations.

One iteration is a real training step of :class:`sfkeras.training.trainer.Trainer`:
Gmain, Dmain, lazy R1 (Dreg every ``d_reg_interval`` steps), the ``bgc`` augmentation
at a fixed p = 0.2 on every image D sees, the generator EMA, on synthetic images
(no data loading). The two kinds of step (with and without R1) are timed separately
(median over ``--iterations``, robust to other processes) and combined in the
schedule's proportion, so a few iterations give the steady-state rate:

    images/s = batch * d_reg_interval / (t_R1 + (d_reg_interval - 1) * t_main)

Models: the ablation generator (``PRESETS["ablation"]``: Layers {1,2,2}, Hidden
{256,64,16}) with ``cifar`` (channel_base 32768, channel_max 512, ``orig``, the CIFAR-10
D) or ``small`` (channel_base 4096, channel_max 128) discriminators.

For a speed claim, run it beside the original on the same machine:
``../shared/bench-original/side_by_side.sh`` prints both and the ratio (machines
differ 2-3x, so a figure from another machine compares with nothing).

XLA is meant for GPUs: on a CPU, XLA's convolutions (no oneDNN) make the step several
times slower (measure both with ``--xla both``).

``--presets NAME ...`` times a named configuration's own training step instead (its G,
D, augmentation and recipe; ``--batch`` and ``--cpu-replicas`` still apply), e.g. the
offline default ``shapes16``, whose rate ``timing/sec_per_kimg`` of a pipeline run
should match.

``--cpu-replicas N`` trains as ``train.cpu_replicas: N`` does: the CPU split into N
logical devices under ``MirroredStrategy`` (the same update as one device), each op on
``cores // N`` threads (XLA, one device only, is then skipped).

Usage::

    python benchmarks/bench_train.py                         # both D, XLA off and on
    python benchmarks/bench_train.py --cpu-replicas 2 --xla off
    python benchmarks/bench_train.py --discriminators small --xla off --iterations 2
    python benchmarks/bench_train.py --presets shapes16 --cpu-replicas 2
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import tensorflow as tf  # noqa: E402

from sfkeras.config import (  # noqa: E402
    PRESETS,
    AugmentConfig,
    Config,
    DataConfig,
    DiscriminatorConfig,
    TrainConfig,
    config_from_params,
)
from sfkeras.training.distribute import select_strategy  # noqa: E402
from sfkeras.training.trainer import Trainer  # noqa: E402

DISCRIMINATORS = {"cifar": (32768, 512), "small": (4096, 128)}


def benchmark_config(discriminator: str, batch: int, xla: bool, cpu_replicas: int = 1) -> Config:
    """The ablation G, the named D, bgc augmentation at fixed p = 0.2, CIFAR recipe."""
    generator = config_from_params({"preset": "ablation"}).generator
    channel_base, channel_max = DISCRIMINATORS[discriminator]
    return Config(
        data=DataConfig(resolution=generator.resolution),
        generator=generator,
        discriminator=DiscriminatorConfig(architecture="orig", channel_base=channel_base,
                                          channel_max=channel_max),
        augment=AugmentConfig(mode="fixed", pipeline="bgc", p=0.2),
        train=TrainConfig(batch_size=batch, xla=xla, cpu_replicas=cpu_replicas,
                          strategy="auto" if cpu_replicas > 1 else "default"),
    )


def preset_config(name: str, batch: int, cpu_replicas: int = 1) -> Config:
    """The preset ``name`` as ``params.yaml`` selects it, at ``batch`` on the CPU split."""
    return config_from_params({"preset": name, "train": {
        "batch_size": batch, "cpu_replicas": cpu_replicas,
        "strategy": "auto" if cpu_replicas > 1 else "default"}})


def images_per_second(config: Config, strategy: tf.distribute.Strategy,
                      iterations: int) -> float:
    """Steady-state training images/s of ``config`` (see the module docstring)."""
    train = config.train
    trainer = Trainer(config, strategy)
    res = config.generator.resolution
    reals = tf.random.uniform([train.batch_size, res, res, 3], -1.0, 1.0)
    # The global batch, split into per-replica shares as training's input pipeline does.
    reals = next(iter(strategy.experimental_distribute_dataset(
        tf.data.Dataset.from_tensors(reals).repeat())))
    interval = train.d_reg_interval

    def timed(step: int) -> float:
        trainer.step.assign(step)
        start = time.perf_counter()
        trainer.run_step(reals)
        return time.perf_counter() - start

    timed(0), timed(1)  # trace and compile both kinds of step
    with_r1 = statistics.median(timed(interval * i) for i in range(1, iterations + 1))
    main = statistics.median(timed(interval * i + 1) for i in range(1, iterations + 1))
    return train.batch_size * interval / (with_r1 + (interval - 1) * main)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--discriminators", nargs="+", choices=sorted(DISCRIMINATORS),
                        default=["cifar", "small"])
    parser.add_argument("--presets", nargs="+", choices=sorted(PRESETS),
                        help="time these presets' own training steps (XLA off) instead")
    parser.add_argument("--xla", choices=["off", "on", "both"], default="both")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--cpu-replicas", type=int, default=1,
                        help="split the CPU into this many training replicas")
    parser.add_argument("--iterations", type=int, default=3,
                        help="timed steps of each kind (with and without R1)")
    args = parser.parse_args()
    xla_modes = {"off": [False], "on": [True], "both": [False, True]}[args.xla]
    if args.cpu_replicas > 1:
        xla_modes = [False]
    # One strategy for all runs: a second MirroredStrategy in the same process reuses
    # the first one's collective-op instance keys, and their all-reduces collide.
    strategy = select_strategy("auto" if args.cpu_replicas > 1 else "default",
                               args.cpu_replicas)
    if args.presets:
        for name in args.presets:
            rate = images_per_second(preset_config(name, args.batch, args.cpu_replicas),
                                     strategy, args.iterations)
            print(f"preset={name} batch={args.batch} xla=off cpu_replicas={args.cpu_replicas}: "
                  f"{rate:7.2f} img/s ({1000 / rate:.2f} s/kimg)", flush=True)
        return
    for discriminator in args.discriminators:
        for xla in xla_modes:
            mode = "on" if xla else "off"
            label = (f"G=ablation D={discriminator:<5} batch={args.batch} xla={mode} "
                     f"cpu_replicas={args.cpu_replicas}")
            try:
                config = benchmark_config(discriminator, args.batch, xla, args.cpu_replicas)
                rate = images_per_second(config, strategy, args.iterations)
            except (tf.errors.OpError, ValueError) as error:
                print(f"{label}: failed: {str(error).splitlines()[0][:200]}", flush=True)
                continue
            print(f"{label}: {rate:7.2f} img/s", flush=True)


if __name__ == "__main__":
    main()
