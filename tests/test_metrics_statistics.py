"""Feature statistics and FID / KID / precision-recall against float64 NumPy/SciPy
references written independently of the implementation."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import scipy.linalg
import scipy.spatial.distance

from sfkeras.metrics import tfgan
from sfkeras.metrics.statistics import (
    FeatureStats,
    frechet_distance,
    kernel_distance,
    precision_recall,
)


def _reference_fid(a: np.ndarray, b: np.ndarray) -> float:
    """StyleGAN2-ADA's FID: biased covariances, SciPy ``sqrtm`` of the product."""
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False, bias=True), np.cov(b, rowvar=False, bias=True)
    root = scipy.linalg.sqrtm(cov_a @ cov_b)
    return float(np.real(np.sum((mu_a - mu_b) ** 2) + np.trace(cov_a + cov_b - 2 * root)))


def _fid(a: np.ndarray, b: np.ndarray) -> float:
    stats_a, stats_b = FeatureStats(), FeatureStats()
    stats_a.append(a)
    stats_b.append(b)
    return frechet_distance(*stats_a.mean_cov(), *stats_b.mean_cov())


def _mmd2_unbiased(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased squared MMD with the cubic polynomial kernel, written out by pairs."""
    d = x.shape[1]
    kernel = lambda p, q: (p @ q.T / d + 1) ** 3  # noqa: E731
    m = len(x)
    off_diagonal = ~np.eye(m, dtype=bool)
    return float(kernel(x, x)[off_diagonal].mean() + kernel(y, y)[off_diagonal].mean()
                 - 2 * kernel(x, y).mean())


def test_stats_stream_equals_batch_statistics(rng):
    features = rng.normal(size=(50, 6)).astype(np.float32) * 3 + 1
    stats = FeatureStats(max_items=37, capture_all=True)
    for start in range(0, 50, 8):
        stats.append(features[start : start + 8])
    assert stats.is_full() and stats.num_items == 37
    mean, cov = stats.mean_cov()
    kept = features[:37].astype(np.float64)
    np.testing.assert_allclose(mean, kept.mean(0), rtol=1e-12)
    np.testing.assert_allclose(cov, np.cov(kept, rowvar=False, bias=True), atol=1e-10)
    np.testing.assert_array_equal(stats.features(), features[:37])


@pytest.mark.parametrize("capture_all", [False, True])
def test_stats_save_load_round_trip(tmp_path, rng, capture_all):
    stats = FeatureStats(max_items=20, capture_all=capture_all)
    stats.append(rng.normal(size=(12, 4)))
    stats.save(tmp_path / "stats.npz")
    loaded = FeatureStats.load(tmp_path / "stats.npz")
    assert (loaded.num_items, loaded.max_items, loaded.capture_all) == (12, 20, capture_all)
    for a, b in zip(loaded.mean_cov(), stats.mean_cov(), strict=True):
        np.testing.assert_array_equal(a, b)
    if capture_all:
        np.testing.assert_array_equal(loaded.features(), stats.features())


def test_stats_errors(rng):
    stats = FeatureStats()
    with pytest.raises(ValueError, match="no features"):
        stats.mean_cov()
    stats.append(rng.normal(size=(3, 4)))
    with pytest.raises(ValueError, match="expected 4 features"):
        stats.append(rng.normal(size=(3, 5)))
    with pytest.raises(ValueError, match="capture_all"):
        stats.features()


@pytest.mark.parametrize("num", [200, 20])  # more samples than features, and fewer
def test_fid_matches_scipy_reference(rng, num):
    a = rng.normal(size=(num, 32)) @ rng.normal(size=(32, 32)) * 0.3
    b = rng.normal(size=(num, 32)) * 1.2 + 0.4
    np.testing.assert_allclose(_fid(a, b), _reference_fid(a, b), rtol=1e-6)


def test_fid_of_a_set_with_itself_is_zero(rng):
    a = rng.normal(size=(300, 16)) @ rng.normal(size=(16, 16))
    assert abs(_fid(a, a)) < 1e-8 * np.trace(np.cov(a, rowvar=False))


def test_fid_grows_with_a_shift(rng):
    a = rng.normal(size=(400, 8))
    b = rng.normal(size=(400, 8))
    values = [_fid(a, b + shift) for shift in (0.0, 0.25, 0.5, 1.0, 2.0)]
    assert all(lo < hi for lo, hi in zip(values, values[1:], strict=False))
    # A pure mean shift of the same set adds exactly |shift|^2 per dimension.
    np.testing.assert_allclose(_fid(a, a + 0.5), 0.25 * 8, rtol=1e-8)


def test_kid_with_full_subsets_is_the_unbiased_mmd(rng):
    x = rng.normal(size=(40, 10))
    y = rng.normal(size=(40, 10)) + 0.3
    kid = kernel_distance(x, y, num_subsets=3, max_subset_size=1000)
    np.testing.assert_allclose(kid, _mmd2_unbiased(x, y), rtol=1e-10)


def test_kid_subsets_follow_the_original_draw_order(rng):
    gen = rng.normal(size=(30, 5))
    real = rng.normal(size=(50, 5)) * 1.1
    kid = kernel_distance(gen, real, num_subsets=4, max_subset_size=12, seed=7)
    draws = np.random.default_rng(7)
    expected = np.mean([
        _mmd2_unbiased(gen[draws.choice(30, 12, replace=False)],
                       real[draws.choice(50, 12, replace=False)])
        for _ in range(4)
    ])
    np.testing.assert_allclose(kid, expected, rtol=1e-10)


def test_kid_needs_two_samples(rng):
    with pytest.raises(ValueError, match="at least 2"):
        kernel_distance(rng.normal(size=(1, 3)), rng.normal(size=(5, 3)))


def _reference_precision_recall(real, gen, k):
    def inside(manifold, probes):
        radii = np.sort(scipy.spatial.distance.cdist(manifold, manifold), axis=1)[:, k]
        return np.mean((scipy.spatial.distance.cdist(probes, manifold) <= radii).any(axis=1))
    return inside(real, gen), inside(gen, real)


@pytest.mark.parametrize("nhood_size", [1, 3])
def test_precision_recall_match_reference(rng, nhood_size):
    real = rng.normal(size=(60, 8))
    gen = rng.normal(size=(45, 8)) * 0.7 + 0.5
    result = precision_recall(real, gen, nhood_size=nhood_size, row_batch_size=7)
    expected = _reference_precision_recall(real, gen, nhood_size)
    assert result == pytest.approx(expected, abs=0)
    assert 0 < result[0] < 1 and 0 < result[1] < 1


def test_precision_recall_of_identical_sets_are_one(rng):
    real = rng.normal(size=(30, 4))
    assert precision_recall(real, real.copy()) == (1.0, 1.0)


def test_tfgan_math_loads_without_the_package_root():
    module = tfgan.classifier_metrics()
    assert callable(module.trace_sqrt_product)
    assert not [name for name in sys.modules if name.startswith("tensorflow_gan")]
