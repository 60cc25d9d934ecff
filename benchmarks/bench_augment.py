"""Speed of the ADA augmentation pipeline: forward and forward+backward milliseconds.

Runs :class:`sfkeras.training.augment.AugmentPipe` on random images as a compiled
``tf.function`` (with and without XLA) and prints one line per measurement: the
median step time. ``fwd+bwd`` also takes the gradient of a scalar of the augmented
images with respect to the input images (the path of G's loss); ``r1`` takes the
gradient of ``|d D(aug(x)) / dx|^2`` with respect to the weights ``w`` of a toy
``D(y) = sum(tanh(y * w))`` (R1's double differentiation through the pipeline)::

    python benchmarks/bench_augment.py                        # bgc, p 0 and 0.2, batch 32, 32x32
    python benchmarks/bench_augment.py --p 0.2 --xla off --iterations 3 --warmup 1
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import tensorflow as tf  # noqa: E402

from sfkeras.training.augment import PIPELINES, AugmentPipe  # noqa: E402


def step_function(pipe: AugmentPipe, mode: str, xla: bool, shape):
    """A compiled step ``images -> scalar``: augmentation, or augmentation and its gradient."""
    if mode == "forward":
        def step(images):
            return tf.reduce_sum(pipe(images))
    elif mode == "train":
        def step(images):
            with tf.GradientTape() as tape:
                tape.watch(images)
                loss = tf.reduce_sum(tf.square(pipe(images)))
            return tf.reduce_sum(tape.gradient(loss, images))
    else:
        weights = tf.Variable(tf.ones(shape[1:]))

        def step(images):
            with tf.GradientTape() as outer:
                with tf.GradientTape() as inner:
                    inner.watch(images)
                    logits = tf.reduce_sum(tf.tanh(pipe(images) * weights))
                penalty = tf.reduce_sum(tf.square(inner.gradient(logits, images)))
            return tf.reduce_sum(outer.gradient(penalty, weights))
    return tf.function(step, jit_compile=xla)


def milliseconds(pipe: AugmentPipe, mode: str, xla: bool, shape, iterations: int,
                 warmup: int) -> float:
    step = step_function(pipe, mode, xla, shape)
    images = tf.random.uniform(shape, -1.0, 1.0, seed=0)
    for _ in range(warmup):
        step(images).numpy()
    seconds = []
    for _ in range(iterations):
        start = time.perf_counter()
        step(images).numpy()
        seconds.append(time.perf_counter() - start)
    return 1000 * statistics.median(seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pipeline", default="bgc", choices=sorted(PIPELINES))
    parser.add_argument("--p", type=float, nargs="+", default=[0.0, 0.2])
    parser.add_argument("--modes", nargs="+", default=["forward", "train", "r1"],
                        choices=["forward", "train", "r1"])
    parser.add_argument("--xla", nargs="+", default=["off", "on"], choices=["off", "on"])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--resolution", type=int, default=32)
    parser.add_argument("--iterations", type=int, default=20, help="timed steps per figure")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps (incl. tracing)")
    args = parser.parse_args()

    shape = (args.batch, args.resolution, args.resolution, 3)
    for p in args.p:
        pipe = AugmentPipe(PIPELINES[args.pipeline], p=p, seed=0)
        for mode in args.modes:
            for xla in args.xla:
                ms = milliseconds(pipe, mode, xla == "on", shape, args.iterations, args.warmup)
                label = {"forward": "forward", "train": "fwd+bwd", "r1": "r1"}[mode]
                print(f"{args.pipeline} p={p:.2f} {label:7s} xla={xla:3s} batch={args.batch} "
                      f"{args.resolution}x{args.resolution}: {ms:8.2f} ms", flush=True)


if __name__ == "__main__":
    main()
