"""Does a conditional generator obey its label? Per-class FID against each class's reals.

Usage::

    python benchmarks/label_fid.py NETWORK DATASET [--inception-weights FILE]
        [--num 1000] [--num-real 1000]

For every class ``k`` of the conditional generator ``NETWORK`` (``.keras``), ``--num``
images of class ``k`` (latents of ``np.random.default_rng(k)``, random noise, no
truncation: the metrics' protocol) are compared by FID with ``--num-real`` real images
of every class ``j`` of the prepared data set ``DATASET`` (the first of its ``train``
split; 1,000 and 1,000, as fid1k), and with those of all classes but ``k`` together.
The label is obeyed when, for every class, the FID to its own class is the lowest of its
row: lower than to each other class, and lower than to the other classes together.
Prints a Markdown table (README, "Class-conditional training").
"""

from __future__ import annotations

import argparse
import collections

import numpy as np

from sfkeras.data import class_distribution, load, load_manifest
from sfkeras.images import to_uint8
from sfkeras.labels import one_hot
from sfkeras.metrics.evaluate import generated_images
from sfkeras.metrics.generator_fn import keras_generator_fn
from sfkeras.metrics.inception import inception_features
from sfkeras.metrics.statistics import FeatureStats, frechet_distance
from sfkeras.saved.loader import load_generator


def real_features_by_class(dataset, weights, num_per_class: int) -> dict[int, np.ndarray]:
    """Inception features of the first ``num_per_class`` ``train`` images of each class."""
    batches = load(dataset, "train", batch_size=250, shuffle=False, repeat=False,
                   drop_remainder=False, with_labels=True)
    features, taken = collections.defaultdict(list), collections.Counter()
    for images, labels in batches:
        keep = np.zeros(len(labels), dtype=bool)
        for i, label in enumerate(labels.numpy().tolist()):
            keep[i] = taken[label] < num_per_class
            taken[label] += keep[i]
        if keep.any():
            pixels = to_uint8(images.numpy()[keep])  # exact: the pipeline's x / 127.5 - 1, inverted
            for label, feature in zip(labels.numpy()[keep], inception_features(
                    pixels, weights_path=weights), strict=True):
                features[int(label)].append(feature)
    return {label: np.stack(rows) for label, rows in features.items()}


def fid(a: np.ndarray, b: np.ndarray) -> float:
    """FID of two sets of Inception features ``[N, 2048]`` (the metrics' statistics)."""
    stats = []
    for features in (a, b):
        stats.append(FeatureStats())
        stats[-1].append(features)
    return frechet_distance(*stats[0].mean_cov(), *stats[1].mean_cov())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("network")
    parser.add_argument("dataset")
    parser.add_argument("--inception-weights", default="data/inception/inception_fid.npz")
    parser.add_argument("--num", type=int, default=1000, help="generated images per class")
    parser.add_argument("--num-real", type=int, default=1000,
                        help="real images per class (the first of the train split)")
    args = parser.parse_args()
    generator = load_generator(args.network)
    class_distribution(args.dataset, generator.c_dim)  # checks the classes match
    names = load_manifest(args.dataset).label_names
    reals = real_features_by_class(args.dataset, args.inception_weights, args.num_real)
    generate = keras_generator_fn(generator)
    columns = " | ".join(f"to {j} ({name})" for j, name in enumerate(names))
    print(f"| generated class | {columns} | to the other classes together | obeyed |")
    print("|---|" + "---:|" * (len(names) + 1) + "---|")
    for k, name in enumerate(names):
        images = np.concatenate(list(generated_images(
            lambda z, k=k: generate(z, one_hot(np.full(len(z), k), generator.c_dim)),
            z_dim=generator.z_dim, num_images=args.num, batch_size=100, seed=k)))
        fakes = inception_features(images, weights_path=args.inception_weights)
        row = [fid(fakes, reals[j]) for j in range(len(names))]
        others = fid(fakes, np.concatenate([f for label, f in reals.items() if label != k]))
        obeyed = row[k] == min(row) and row[k] < others
        cells = " | ".join(f"**{v:.1f}**" if j == k else f"{v:.1f}" for j, v in enumerate(row))
        print(f"| {k} ({name}, {len(reals[k])} real) | {cells} | {others:.1f} | "
              f"{'yes' if obeyed else 'no'} |", flush=True)


if __name__ == "__main__":
    main()
