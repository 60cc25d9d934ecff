"""Throughput of the Styleformer generator: images/s for inference and forward+backward.

Runs each preset's generator (random weights) on random latents, as a compiled
``tf.function`` with and without XLA, and prints one line per measurement (batch size
over the median step time, which is robust to other processes on the machine) with the
peak memory: the GPU allocator's peak of that measurement, or on CPU the process's
maximum resident set size so far (a high-water mark: run one preset per process for a
per-preset figure)::

    python benchmarks/bench_generator.py                      # ablation + cifar10, batch 32
    python benchmarks/bench_generator.py --iterations 2 --warmup 1 --presets ablation
    python benchmarks/bench_generator.py --presets clevr afhq_cat --batch 4   # Styleformer-C

(``cityscapes`` builds the same generator as ``clevr``.)

``--backend jax torch tensorflow`` measures on each Keras backend, one process each;
``--xla on`` then means that backend's compiler (``jax.jit``, ``torch.compile``; see
``benchmarks/backends.py``)::

    python benchmarks/bench_generator.py --backend jax torch --presets ablation


For a speed claim, run it beside the original on the same machine:
``../shared/bench-original/side_by_side.sh`` prints both and the ratio (machines
differ 2-3x, so a figure from another machine compares with nothing).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import time

import backends  # noqa: E402
from backends import (  # noqa: E402
    COMPILERS,
    add_backend_argument,
    choose_backend,
    gradient_step,
    inference_step,
)

BACKEND = choose_backend()
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402

from sfkeras.config import config_from_params  # noqa: E402
from sfkeras.models.generator import Generator  # noqa: E402

if BACKEND == "tensorflow":
    import tensorflow as tf


def step_function(generator: Generator, mode: str, xla: bool):
    """A compiled step ``z -> scalar`` running inference or forward+backward."""
    if BACKEND != "tensorflow":
        return other_backend_step(generator, mode, xla)
    if mode == "inference":
        def step(z):
            return tf.reduce_sum(generator(z, noise_mode="random"))
    else:
        def step(z):
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(generator(z, noise_mode="random", training=True))
            grads = tape.gradient(loss, generator.trainable_weights)
            return tf.add_n([tf.reduce_sum(g) for g in grads])
    return tf.function(step, jit_compile=xla)


def other_backend_step(generator: Generator, mode: str, compiled: bool):
    """:func:`step_function` on JAX or PyTorch."""
    if mode == "inference":
        return inference_step(generator, compiled, noise_mode="random")
    return gradient_step(generator, compiled, noise_mode="random", training=True)


def images_per_second(generator: Generator, mode: str, xla: bool, batch: int,
                      iterations: int, warmup: int) -> float:
    step = step_function(generator, mode, xla)
    z = keras.random.normal((batch, generator.z_dim), seed=0)
    for _ in range(warmup):
        keras.ops.convert_to_numpy(step(z))
    seconds = []
    for _ in range(iterations):
        start = time.perf_counter()
        keras.ops.convert_to_numpy(step(z))
        seconds.append(time.perf_counter() - start)
    return batch / statistics.median(seconds)


def reset_peak_memory() -> None:
    """Start a new peak-memory measurement (GPU only; the CPU figure is a high-water mark)."""
    if BACKEND != "tensorflow":
        return backends.peak_memory_reset()
    if tf.config.list_logical_devices("GPU"):
        tf.config.experimental.reset_memory_stats("GPU:0")


def peak_memory() -> str:
    """``gpu_peak=...MiB`` since :func:`reset_peak_memory`, or the process's ``max_rss``."""
    if BACKEND != "tensorflow":
        return backends.peak_memory()
    if tf.config.list_logical_devices("GPU"):
        peak = tf.config.experimental.get_memory_info("GPU:0")["peak"] / 2**20
        return f"gpu_peak={peak:.0f}MiB"
    max_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10  # KiB on Linux
    return f"max_rss={max_rss:.0f}MiB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="+", default=["ablation", "cifar10"])
    parser.add_argument("--modes", nargs="+", default=["inference", "train"],
                        choices=["inference", "train"])
    parser.add_argument("--xla", nargs="+", default=["off", "on"], choices=["off", "on"])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--iterations", type=int, default=5, help="timed steps per figure")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps (incl. tracing)")
    add_backend_argument(parser)
    args = parser.parse_args()

    for preset in args.presets:
        generator = Generator(config_from_params({"preset": preset}).generator, seed=0)
        for mode in args.modes:
            for xla in args.xla:
                reset_peak_memory()
                rate = images_per_second(generator, mode, xla == "on", args.batch,
                                         args.iterations, args.warmup)
                label = "inference" if mode == "inference" else "fwd+bwd"
                compiler = COMPILERS[BACKEND] if xla == "on" else "off"
                print(f"{BACKEND:10s} {preset:10s} {label:9s} compile={compiler:13s} "
                      f"batch={args.batch} "
                      f"iterations={args.iterations}: {rate:8.2f} img/s {peak_memory()}",
                      flush=True)


if __name__ == "__main__":
    main()
