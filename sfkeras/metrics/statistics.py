"""Feature statistics and the StyleGAN2-ADA metrics computed from them.

- :class:`FeatureStats` accumulates features batch by batch: running float64 sums for
  the mean and covariance, and optionally every feature (for KID and precision/recall).
- :func:`frechet_distance`: FID from two (mean, covariance) pairs.
- :func:`kernel_distance`: KID, StyleGAN2-ADA's estimator (random subsets, cubic kernel).
- :func:`precision_recall`: improved precision and recall (k-nearest-neighbour manifolds).
"""

from __future__ import annotations

import os

import numpy as np

from sfkeras.metrics import tfgan
from sfkeras.metrics.atomic import write_atomically


class FeatureStats:
    """Streaming statistics of feature vectors ``[N, D]``.

    Args:
        max_items: keep at most this many vectors (later ones are dropped); ``None``: all.
        capture_all: also keep every vector (float32), as KID and precision/recall need.

    Attributes:
        num_items: vectors accumulated so far.
    """

    def __init__(self, max_items: int | None = None, capture_all: bool = False):
        self.max_items = max_items
        self.capture_all = capture_all
        self.num_items = 0
        self._sum: np.ndarray | None = None  # float64 [D]
        self._outer: np.ndarray | None = None  # float64 [D, D], sum of x x^T
        self._all: list[np.ndarray] = []

    def is_full(self) -> bool:
        """Whether ``max_items`` vectors have been accumulated."""
        return self.max_items is not None and self.num_items >= self.max_items

    def append(self, features: np.ndarray) -> None:
        """Accumulate a batch ``[B, D]`` (truncated at ``max_items``)."""
        features = np.asarray(features, np.float32)
        if features.ndim != 2:
            raise ValueError(f"expected features [B, D], got shape {list(features.shape)}")
        if self.max_items is not None:
            features = features[: max(self.max_items - self.num_items, 0)]
        if self._sum is None:
            dim = features.shape[1]
            self._sum = np.zeros([dim], np.float64)
            self._outer = np.zeros([dim, dim], np.float64)
        elif features.shape[1] != self._sum.shape[0]:
            raise ValueError(f"expected {self._sum.shape[0]} features, got {features.shape[1]}")
        as64 = features.astype(np.float64)
        self._sum += as64.sum(axis=0)
        self._outer += as64.T @ as64
        if self.capture_all:
            self._all.append(features)
        self.num_items += len(features)

    def mean_cov(self) -> tuple[np.ndarray, np.ndarray]:
        """float64 mean ``[D]`` and covariance ``[D, D]`` (normalised by N, as the original)."""
        self._require_items()
        mean = self._sum / self.num_items
        return mean, self._outer / self.num_items - np.outer(mean, mean)

    def features(self) -> np.ndarray:
        """Every accumulated vector, float32 ``[N, D]`` (needs ``capture_all``)."""
        if not self.capture_all:
            raise ValueError("these statistics were accumulated without capture_all")
        self._require_items()
        return np.concatenate(self._all)

    def save(self, path: str | os.PathLike) -> None:
        """Write to ``path`` (``.npz``, atomically)."""
        self._require_items()
        arrays = {"num_items": np.int64(self.num_items), "sum": self._sum, "outer": self._outer,
                  "max_items": np.int64(-1 if self.max_items is None else self.max_items)}
        if self.capture_all:
            arrays["all"] = self.features()
        write_atomically(path, lambda file: np.savez(file, **arrays))

    @classmethod
    def load(cls, path: str | os.PathLike) -> FeatureStats:
        """Read statistics written by :meth:`save`."""
        with np.load(path, allow_pickle=False) as data:
            max_items = int(data["max_items"])
            stats = cls(None if max_items < 0 else max_items, capture_all="all" in data.files)
            stats.num_items = int(data["num_items"])
            stats._sum, stats._outer = data["sum"], data["outer"]
            stats._all = [data["all"]] if stats.capture_all else []
        return stats

    def _require_items(self) -> None:
        if self.num_items == 0:
            raise ValueError("no features were accumulated")


def frechet_distance(
    mean1: np.ndarray, cov1: np.ndarray, mean2: np.ndarray, cov2: np.ndarray
) -> float:
    """Frechet distance between two Gaussians (FID on Inception features).

    ``|mean1 - mean2|^2 + tr(cov1 + cov2 - 2 sqrtm(cov1 cov2))`` in float64; the trace
    of the matrix square root is TF-GAN's (:func:`sfkeras.metrics.tfgan.trace_sqrt_product`),
    which equals the real part of SciPy's ``trace(sqrtm(cov1 @ cov2))`` used by
    StyleGAN2-ADA.
    """
    mean1, mean2 = np.asarray(mean1, np.float64), np.asarray(mean2, np.float64)
    cov1, cov2 = np.asarray(cov1, np.float64), np.asarray(cov2, np.float64)
    mean_term = np.square(mean1 - mean2).sum()
    trace_term = np.trace(cov1) + np.trace(cov2) - 2.0 * tfgan.trace_sqrt_product(cov1, cov2)
    return float(mean_term + trace_term)


def kernel_distance(
    gen_features: np.ndarray,
    real_features: np.ndarray,
    *,
    num_subsets: int = 100,
    max_subset_size: int = 1000,
    seed: int = 0,
) -> float:
    """Kernel Inception Distance, StyleGAN2-ADA's estimator.

    The unbiased squared MMD with the kernel ``k(x, y) = (x.y / D + 1)^3``, averaged over
    ``num_subsets`` pairs of random subsets (without replacement) of
    ``m = min(len(gen), len(real), max_subset_size)`` vectors each. Computed in float64.

    Args:
        gen_features: ``[N_gen, D]``.
        real_features: ``[N_real, D]``.
        seed: seed of the subset choice (the original draws from NumPy's global state).
    """
    gen = np.asarray(gen_features, np.float64)
    real = np.asarray(real_features, np.float64)
    dim = real.shape[1]
    m = min(len(gen), len(real), max_subset_size)
    if m < 2:
        raise ValueError("KID needs at least 2 generated and 2 real feature vectors")
    if m == len(gen) == len(real):
        # Every "subset" is then a permutation of all vectors, and the estimate does not
        # depend on the order: one evaluation gives the mean over all subsets.
        num_subsets = 1
    rng = np.random.default_rng(seed)
    total = 0.0
    for _ in range(num_subsets):
        x = gen[rng.choice(len(gen), m, replace=False)]
        y = real[rng.choice(len(real), m, replace=False)]
        within = (x @ x.T / dim + 1) ** 3 + (y @ y.T / dim + 1) ** 3
        between = (x @ y.T / dim + 1) ** 3
        total += (within.sum() - np.diag(within).sum()) / (m - 1) - between.sum() * 2 / m
    return float(total / num_subsets / m)


def precision_recall(
    real_features: np.ndarray,
    gen_features: np.ndarray,
    *,
    nhood_size: int = 3,
    row_batch_size: int = 256,
) -> tuple[float, float]:
    """Improved precision and recall (Kynkaanniemi et al.), StyleGAN2-ADA's algorithm.

    Each set spans a manifold: the union of balls around its vectors with radius the
    distance to their ``nhood_size``-th nearest neighbour in the set. Precision is the
    fraction of generated vectors inside the real manifold, recall the fraction of real
    vectors inside the generated one. Distances are Euclidean, in float64 (the original
    rounds features and radii to float16).

    Args:
        real_features: ``[N_real, D]``.
        gen_features: ``[N_gen, D]``.
        nhood_size: ``k`` of the k-nearest-neighbour radius.
        row_batch_size: rows of each distance block (memory ``row_batch_size * N * 8`` B).

    Returns:
        ``(precision, recall)``.
    """
    real = np.asarray(real_features, np.float64)
    gen = np.asarray(gen_features, np.float64)
    return (
        _fraction_inside(real, gen, nhood_size, row_batch_size),
        _fraction_inside(gen, real, nhood_size, row_batch_size),
    )


def _fraction_inside(manifold, probes, nhood_size, row_batch_size) -> float:
    """Fraction of ``probes`` within the k-NN balls of ``manifold``."""
    if len(manifold) <= nhood_size:
        raise ValueError(f"precision/recall needs more than {nhood_size} vectors per set")
    # Squared distances keep the order of distances; the k-th neighbour excludes the
    # point itself, which is its own nearest (distance 0).
    radii = np.concatenate([
        np.partition(_squared_distances(batch, manifold), nhood_size, axis=1)[:, nhood_size]
        for batch in _batches(manifold, row_batch_size)
    ])
    inside = np.concatenate([
        (_squared_distances(batch, manifold) <= radii).any(axis=1)
        for batch in _batches(probes, row_batch_size)
    ])
    return float(inside.mean())


def _squared_distances(rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """``[R, C]`` squared Euclidean distances, clamped at 0 against rounding."""
    squared = (rows**2).sum(1)[:, None] + (cols**2).sum(1)[None, :] - 2 * rows @ cols.T
    return np.maximum(squared, 0)


def _batches(array: np.ndarray, size: int):
    return (array[start : start + size] for start in range(0, len(array), size))
