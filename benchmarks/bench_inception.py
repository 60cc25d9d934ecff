"""Throughput of FID Inception feature extraction on CPU (what every metric pays).

Runs :func:`sfkeras.metrics.inception_features` on random uint8 images (resize to
299x299 included) with and without XLA, and prints one line per configuration: images
per second over the median batch time, which is robust to other processes::

    python benchmarks/bench_inception.py                         # 32x32, batch 50, 6 batches
    python benchmarks/bench_inception.py --batches 2 --warmup 1  # quick check
    python benchmarks/bench_inception.py --size 64 --threads 2

XLA measured slower than the default kernels on CPU (one thread, 32x32: about 1.4x
the CPU time per image), so XLA is off by default.

For a speed claim, run it beside the original on the same machine:
``../shared/bench-original/side_by_side.sh`` prints both and the ratio (machines
differ 2-3x, so a figure from another machine compares with nothing).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from sfkeras.metrics.inception import inception_features, load_fid_inception  # noqa: E402


def bench(size: int, batch: int, batches: int, warmup: int, jit_compile: bool) -> float:
    """Images/s of ``inception_features`` over ``batches`` timed batches."""
    images = np.random.default_rng(0).integers(0, 256, (batch, size, size, 3), dtype=np.uint8)
    load_fid_inception(None, jit_compile)  # build and load weights outside the timing
    for _ in range(warmup):
        inception_features(images, batch_size=batch, jit_compile=jit_compile)
    times = []
    for _ in range(batches):
        start = time.perf_counter()
        inception_features(images, batch_size=batch, jit_compile=jit_compile)
        times.append(time.perf_counter() - start)
    return batch / statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=32, help="input image side")
    parser.add_argument("--batch", type=int, default=50, help="images per batch")
    parser.add_argument("--batches", type=int, default=6, help="timed batches")
    parser.add_argument("--warmup", type=int, default=2, help="untimed batches first")
    parser.add_argument("--threads", type=int, default=0,
                        help="intra-op threads (0: TensorFlow's default)")
    parser.add_argument("--xla", choices=["both", "on", "off"], default="both")
    args = parser.parse_args()
    if args.threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    modes = {"both": (False, True), "on": (True,), "off": (False,)}[args.xla]
    for jit_compile in modes:
        rate = bench(args.size, args.batch, args.batches, args.warmup, jit_compile)
        print(f"inception_features {args.size}x{args.size} batch {args.batch} "
              f"xla={'on' if jit_compile else 'off'} threads={args.threads or 'default'} "
              f"cpus={os.cpu_count()}: {rate:.2f} img/s")


if __name__ == "__main__":
    main()
