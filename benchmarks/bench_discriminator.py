"""Throughput of the StyleGAN2 discriminator: forward, forward+backward and R1 steps.

Runs a randomly initialised discriminator on random images as a compiled
``tf.function`` and prints one line per measurement: milliseconds per step (the median,
which is robust to other processes on the machine) and images per second. Steps:

- ``forward``: logits of a batch;
- ``backward``: forward plus the gradients of the mean logit w.r.t. all weights (the
  cost of one Dmain phase per batch of images);
- ``r1``: forward, the gradient w.r.t. the images, and the gradients of the R1 penalty
  w.r.t. all weights (the Dreg phase: second-order differentiation).

Usage::

    python benchmarks/bench_discriminator.py                       # cifar + small, batch 32
    python benchmarks/bench_discriminator.py --widths small --steps backward --iterations 3
    python benchmarks/bench_discriminator.py --xla                 # XLA (slow on CPU)
    python benchmarks/bench_discriminator.py --backend jax torch --xla  # jax.jit, torch.compile

``--backend`` names Keras backends, each measured in its own process; ``--xla`` means
that backend's compiler (``benchmarks/backends.py``).

Widths: ``cifar`` is the CIFAR-10 D (channel_base 32768, channel_max 512: 20.7M
parameters at 32x32), ``small`` has channel_base 4096, channel_max 128.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

from backends import (  # noqa: E402
    COMPILERS,
    add_backend_argument,
    choose_backend,
    gradient_step,
    inference_step,
    r1_step,
)

BACKEND = choose_backend()
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402

from sfkeras.config.discriminator import DiscriminatorConfig  # noqa: E402
from sfkeras.models.discriminator import Discriminator  # noqa: E402

if BACKEND == "tensorflow":
    import tensorflow as tf

WIDTHS = {"cifar": (32768, 512), "small": (4096, 128)}
STEPS = ("forward", "backward", "r1")


def step_function(model: Discriminator, step: str, xla: bool):
    """A compiled ``images -> scalar`` running one kind of step."""
    if BACKEND != "tensorflow":
        return {"forward": inference_step, "backward": gradient_step, "r1": r1_step}[step](
            model, xla)
    weights = model.trainable_weights

    def forward(images):
        return tf.reduce_sum(model(images))

    def backward(images):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(model(images))
        return tf.add_n([tf.reduce_sum(g) for g in tape.gradient(loss, weights)])

    def r1(images):
        with tf.GradientTape() as tape:
            with tf.GradientTape() as inner:
                inner.watch(images)
                logits_sum = tf.reduce_sum(model(images))
            penalty = tf.reduce_mean(tf.reduce_sum(
                tf.square(inner.gradient(logits_sum, images)), axis=(1, 2, 3)))
        grads = tape.gradient(penalty, weights)
        return tf.add_n([tf.reduce_sum(g) for g in grads if g is not None])

    return tf.function({"forward": forward, "backward": backward, "r1": r1}[step],
                       jit_compile=xla)


def milliseconds_per_step(model: Discriminator, step: str, images, xla: bool,
                          iterations: int, warmup: int) -> float:
    run = step_function(model, step, xla)
    for _ in range(warmup):
        keras.ops.convert_to_numpy(run(images))
    seconds = []
    for _ in range(iterations):
        start = time.perf_counter()
        keras.ops.convert_to_numpy(run(images))
        seconds.append(time.perf_counter() - start)
    return 1000 * statistics.median(seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--widths", nargs="+", choices=sorted(WIDTHS), default=["cifar", "small"])
    parser.add_argument("--steps", nargs="+", choices=STEPS, default=list(STEPS))
    parser.add_argument("--architecture", choices=["orig", "skip", "resnet"], default="orig")
    parser.add_argument("--resolution", type=int, default=32)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--iterations", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--xla", action="store_true",
                        help="compile with XLA (jit_compile; jax.jit, torch.compile)")
    add_backend_argument(parser)
    args = parser.parse_args()

    images = keras.random.normal((args.batch, args.resolution, args.resolution, 3), seed=0)
    for widths in args.widths:
        channel_base, channel_max = WIDTHS[widths]
        config = DiscriminatorConfig(architecture=args.architecture, channel_base=channel_base,
                                     channel_max=channel_max)
        model = Discriminator(args.resolution, config)
        model.build(images.shape)
        for step in args.steps:
            ms = milliseconds_per_step(model, step, images, args.xla, args.iterations,
                                       args.warmup)
            compiler = COMPILERS[BACKEND] if args.xla else "off"
            print(f"{BACKEND} discriminator widths={widths} params={model.count_params()} "
                  f"arch={args.architecture} res={args.resolution} batch={args.batch} "
                  f"compile={compiler} step={step}: {ms:.0f} ms/step, "
                  f"{args.batch / ms * 1000:.1f} img/s", flush=True)


if __name__ == "__main__":
    main()
