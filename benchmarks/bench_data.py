"""Throughput of the data stage and the input pipeline (built-in shapes, 32x32).

Prints one line per figure:

* ``prepare``: images/s of :func:`sfkeras.data.prepare_dataset` for the shapes source
  (drawing, PNG encoding, TFRecord writing, hashing), single process;
* ``load``: images/s of :func:`sfkeras.data.load` (read, shuffle, PNG decode, scale,
  x-flip, batch), the training input pipeline, after a warm-up.

::

    python benchmarks/bench_data.py                               # 10000 images, 300 batches
    python benchmarks/bench_data.py --images 500 --batches 20     # quick check

Target: ``load`` comfortably above 1000 img/s on 2 cores (10x what training consumes).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from sfkeras.config.data import DataConfig, ShapesSourceConfig  # noqa: E402
from sfkeras.data import load, prepare_dataset  # noqa: E402


def bench_prepare(root: str, resolution: int, images: int) -> tuple[str, float]:
    """Prepare ``images`` shapes images; return the folder and images/s."""
    config = DataConfig(name="bench", resolution=resolution,
                        shapes=ShapesSourceConfig(num_train=images, num_test=0))
    start = time.perf_counter()
    folder = prepare_dataset(config, root, progress=False)
    return str(folder), images / (time.perf_counter() - start)


def bench_load(folder: str, batch: int, batches: int, warmup: int) -> float:
    """Images/s of the training input pipeline over ``batches`` batches."""
    iterator = iter(load(folder, batch_size=batch, mirror=True))
    for _ in range(warmup):
        next(iterator)
    start = time.perf_counter()
    for _ in range(batches):
        next(iterator)
    return batches * batch / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resolution", type=int, default=32)
    parser.add_argument("--images", type=int, default=10000, help="images to prepare")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--batches", type=int, default=300, help="timed batches of `load`")
    parser.add_argument("--warmup", type=int, default=20, help="untimed batches of `load`")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as root:
        folder, prepare_rate = bench_prepare(root, args.resolution, args.images)
        print(f"prepare shapes {args.resolution}x{args.resolution} images={args.images}: "
              f"{prepare_rate:.0f} img/s")
        load_rate = bench_load(folder, args.batch, args.batches, args.warmup)
        print(f"load    shapes {args.resolution}x{args.resolution} batch={args.batch} "
              f"mirror=on: {load_rate:.0f} img/s")


if __name__ == "__main__":
    main()
