"""Evaluate a generator with StyleGAN2-ADA's metric protocols.

:func:`evaluate_generator` streams generated and real images through the FID
Inception in batches (images never accumulate in memory), keeps running feature
statistics, and computes every requested metric from them. Real-image statistics are
computed once per prepared data set and cached, keyed by the data set's content hash.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import pathlib
from collections.abc import Callable, Iterable, Iterator, Sequence

import numpy as np

from sfkeras.config.metric_names import MetricSpec, parse_metric
from sfkeras.images import to_uint8
from sfkeras.labels import draw_labels
from sfkeras.metrics.inception import inception_features
from sfkeras.metrics.inception_weights import SHA1, cache_dir
from sfkeras.metrics.statistics import (
    FeatureStats,
    frechet_distance,
    kernel_distance,
    precision_recall,
)
from sfkeras.progress import progress_bar

FeatureFn = Callable[[np.ndarray], np.ndarray]
"""uint8 images ``[B, H, W, 3]`` -> features ``[B, D]``."""

INCEPTION_ID = f"inception-{SHA1[:12]}"


@dataclasses.dataclass(frozen=True)
class RealImages:
    """The real images of a prepared data set split, as the evaluator reads them.

    Attributes:
        key: identifies the images (data set content hash and split); the cache key
            of their statistics.
        batches: ``batch_size`` -> iterable of uint8 ``[B, H, W, C]`` batches, always
            in the same order.
    """

    key: str
    batches: Callable[[int], Iterable[np.ndarray]]


def open_real_images(dataset_path: str | os.PathLike, split: str = "train") -> RealImages:
    """The images of a data set prepared by :func:`sfkeras.data.prepare_dataset`.

    The cache key is the manifest's ``content_hash`` and the split; the images come
    from :func:`sfkeras.data.iterate_uint8` in prepared order.
    """
    from sfkeras.data import iterate_uint8, load_manifest

    manifest = load_manifest(dataset_path)
    manifest.split(split)  # fails early, naming the splits present
    return RealImages(
        key=f"{manifest.content_hash}-{split}",
        batches=functools.partial(iterate_uint8, os.fspath(dataset_path), split),
    )


def generated_images(
    generate_fn: Callable[..., np.ndarray],
    *,
    z_dim: int,
    num_images: int,
    batch_size: int,
    seed: int,
    label_distribution: np.ndarray | None = None,
) -> Iterator[np.ndarray]:
    """Yield uint8 batches of ``num_images`` generated images in total.

    Latents are drawn from ``np.random.default_rng(seed)`` in sequence, so the images
    are the same whatever ``batch_size`` is. With ``label_distribution`` (a conditional
    generator, called ``generate_fn(z, c)``), each image's one-hot label is drawn from
    it, as StyleGAN2-ADA's metrics draw the labels of random training images, from a
    stream of its own (``default_rng([seed, 1])``).
    """
    rng = np.random.default_rng(seed)
    label_rng = np.random.default_rng([seed, 1])
    for start in range(0, num_images, batch_size):
        z = rng.standard_normal((min(batch_size, num_images - start), z_dim), np.float32)
        if label_distribution is None:
            images = np.asarray(generate_fn(z))
        else:
            images = np.asarray(generate_fn(z, draw_labels(label_distribution, len(z),
                                                           label_rng)))
        yield images if images.dtype == np.uint8 else to_uint8(images)


def accumulate_features(
    batches: Iterable[np.ndarray],
    feature_fn: FeatureFn,
    stats: Sequence[FeatureStats],
    *,
    description: str = "features",
    progress: bool = True,
) -> None:
    """Append the features of image batches to every ``stats`` until all are full.

    One pass serves several statistics (e.g. the first 2k and all images): each keeps
    the first ``max_items`` vectors; the pass stops when the largest is full or the
    batches run out.
    """
    limits = [s.max_items for s in stats]
    total = None if None in limits else max(limits)
    with progress_bar(total=total, desc=description, unit="img", disable=not progress,
                      leave=False) as bar:
        for images in batches:
            if total is not None:
                images = images[: total - bar.n]
            features = feature_fn(images)
            for item in stats:
                item.append(features)
            bar.update(len(images))
            if all(item.is_full() for item in stats):
                break


def real_feature_stats(
    real: RealImages,
    specs: Sequence[MetricSpec],
    feature_fn: FeatureFn,
    *,
    batch_size: int,
    use_cache: bool,
    progress: bool = True,
) -> dict[int | None, FeatureStats]:
    """Statistics of the real images that ``specs`` need, keyed by ``max_real``.

    With ``use_cache`` (the standard Inception only), statistics are read from and
    written to ``<cache>/gan-metrics/<data set key>-<detector>-<count>-<kind>.npz``;
    those not cached are computed in one pass over the images.
    """
    reals: dict[int | None, FeatureStats] = {}
    missing: dict[int | None, pathlib.Path] = {}
    for max_real in dict.fromkeys(spec.max_real for spec in specs):
        capture_all = any(s.needs_all_features for s in specs if s.max_real == max_real)
        cache_file = _stats_cache_file(real, max_real, capture_all)
        if use_cache and cache_file.is_file():
            reals[max_real] = FeatureStats.load(cache_file)
        else:
            reals[max_real] = FeatureStats(max_real, capture_all)
            missing[max_real] = cache_file
    if missing:
        accumulate_features(real.batches(batch_size), feature_fn,
                            [reals[key] for key in missing],
                            description="real features", progress=progress)
    if use_cache:
        for key, cache_file in missing.items():
            reals[key].save(cache_file)
    return reals


def evaluate_generator(
    generate_fn: Callable[..., np.ndarray],
    dataset: str | os.PathLike | RealImages,
    metrics: Sequence[str],
    *,
    z_dim: int,
    num_images: int | None = None,
    batch_size: int = 64,
    seed: int = 0,
    split: str = "train",
    inception_weights: str | os.PathLike | None = None,
    feature_fn: FeatureFn | None = None,
    inception_threads: int = 1,
    progress: bool = True,
    label_distribution: np.ndarray | None = None,
) -> dict[str, float]:
    """Compute StyleGAN2-ADA metrics of a generator against a prepared data set.

    Args:
        generate_fn: latents float32 ``[N, z_dim]`` -> images NHWC, float in ~[-1, 1]
            (converted by :func:`sfkeras.images.to_uint8`, the original's rule)
            or already uint8.
        dataset: a prepared data set folder, or :class:`RealImages`.
        metrics: protocol names (see :mod:`sfkeras.config.metric_names`).
        z_dim: latent size of the generator.
        num_images: overrides every metric's generated count (and the real count of
            those without ``_full``); for smoke tests, the protocol leaves it ``None``.
        batch_size: images per generator and Inception batch.
        seed: seed of the latents and of KID's subsets.
        split: data set split of the real images.
        inception_weights: a copy of ``default_1.pt`` (``evaluate.inception_weights``).
        feature_fn: replaces the Inception (tests); real statistics are then not cached.
        inception_threads: Inception forward passes at once (``inception_features``'s
            ``threads``).
        progress: show progress bars.
        label_distribution: for a conditional generator (called ``generate_fn(z, c)``),
            the training set's label distribution ``[c_dim]``, from which its labels are
            drawn (:func:`sfkeras.data.class_distribution`); ``None``: unconditional.

    Returns:
        ``{"fid2k": ..., "pr2k3_precision": ..., "pr2k3_recall": ...}`` (floats).
    """
    specs = [parse_metric(name) for name in metrics]
    if num_images is not None:
        specs = [dataclasses.replace(spec, num_gen=num_images) for spec in specs]
    if not specs:
        raise ValueError("no metrics requested")
    real = dataset if isinstance(dataset, RealImages) else open_real_images(dataset, split)
    cacheable = feature_fn is None
    if feature_fn is None:
        feature_fn = functools.partial(
            inception_features, batch_size=batch_size, weights_path=inception_weights,
            threads=inception_threads
        )

    reals = real_feature_stats(real, specs, feature_fn, batch_size=batch_size,
                               use_cache=cacheable, progress=progress)
    generated = {spec.name: FeatureStats(spec.num_gen, spec.needs_all_features) for spec in specs}
    images = generated_images(generate_fn, z_dim=z_dim, num_images=max(s.num_gen for s in specs),
                              batch_size=batch_size, seed=seed,
                              label_distribution=label_distribution)
    accumulate_features(images, feature_fn, list(generated.values()),
                        description="generated features", progress=progress)

    results: dict[str, float] = {}
    for spec in specs:
        results.update(_compute(spec, generated[spec.name], reals[spec.max_real], seed))
    return results


def _compute(spec: MetricSpec, gen: FeatureStats, real: FeatureStats, seed: int):
    """The result entries of one metric."""
    if spec.kind == "fid":
        return {spec.name: frechet_distance(*gen.mean_cov(), *real.mean_cov())}
    if spec.kind == "kid":
        value = kernel_distance(gen.features(), real.features(), num_subsets=spec.num_subsets,
                                max_subset_size=spec.max_subset_size, seed=seed)
        return {spec.name: value}
    precision, recall = precision_recall(real.features(), gen.features(),
                                         nhood_size=spec.nhood_size)
    return dict(zip(spec.result_keys(), (precision, recall), strict=True))


def _stats_cache_file(real: RealImages, max_real: int | None, capture_all: bool) -> pathlib.Path:
    count = "all" if max_real is None else str(max_real)
    kind = "features" if capture_all else "meancov"
    return cache_dir() / "gan-metrics" / f"{real.key}-{INCEPTION_ID}-{count}-{kind}.npz"
