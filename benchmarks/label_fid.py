"""Does a conditional generator obey its label? Per-class FID against each class's reals.

Usage::

    python benchmarks/label_fid.py NETWORK DATASET [--inception-weights FILE] [--num 1000]

For every class ``k`` of the conditional generator ``NETWORK`` (``.keras``), ``--num``
images of class ``k`` (latents of ``np.random.default_rng(k)``, random noise, no
truncation: the metrics' protocol) are compared by FID with the real images of the
prepared data set ``DATASET`` (``train`` split) of class ``k`` and with those of every
other class together. The label is obeyed when the first is lower for every class.
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


def real_features_by_class(dataset, weights) -> dict[int, np.ndarray]:
    """Inception features of every ``train`` image of ``dataset``, by label."""
    batches = load(dataset, "train", batch_size=250, shuffle=False, repeat=False,
                   drop_remainder=False, with_labels=True)
    features = collections.defaultdict(list)
    for images, labels in batches:
        pixels = to_uint8(images.numpy())  # exact: the pipeline's x / 127.5 - 1, inverted
        for label, feature in zip(labels.numpy(), inception_features(
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
    parser.add_argument("--num", type=int, default=1000)
    args = parser.parse_args()
    generator = load_generator(args.network)
    class_distribution(args.dataset, generator.c_dim)  # checks the classes match
    names = load_manifest(args.dataset).label_names
    reals = real_features_by_class(args.dataset, args.inception_weights)
    generate = keras_generator_fn(generator)
    print("| class | real images | FID to its own class | FID to the other classes | obeyed |")
    print("|---|---:|---:|---:|---|")
    for k, name in enumerate(names):
        images = np.concatenate(list(generated_images(
            lambda z, k=k: generate(z, one_hot(np.full(len(z), k), generator.c_dim)),
            z_dim=generator.z_dim, num_images=args.num, batch_size=100, seed=k)))
        fakes = inception_features(images, weights_path=args.inception_weights)
        own = fid(fakes, reals[k])
        others = fid(fakes, np.concatenate([f for label, f in reals.items() if label != k]))
        print(f"| {k} ({name}) | {len(reals[k])} | {own:.1f} | {others:.1f} | "
              f"{'yes' if own < others else 'no'} |", flush=True)


if __name__ == "__main__":
    main()
