"""Freshly built networks start where the original's start (``init_stats.json``).

The fixture gives, for two configurations, the original's per-tensor shape, mean, std
and excess kurtosis pooled over 8 seeds. Each test builds this port's G and D with as
many seeds, pools the same statistics through the weight-import name tables (so a
tensor is compared with the original tensor it replaces) and checks:

* constants (std 0 in the original: biases, ``pos_embedding``, ``w_avg``,
  ``noise_strength``, the affine biases of 1) are exactly that constant;
* random tensors have the original's std and mean within 6 standard errors of the
  two pooled estimates, and the same distribution family by excess kurtosis (normal
  ~0, uniform ~-1.2; both estimates within 0.45 of each other where they hold at least
  500 values).

``resample_filter`` buffers are constants of the FIR ops here, checked by the parity tests.
"""

from __future__ import annotations

import json
import math

import keras
import numpy as np
import pytest
from conftest import FIXTURES

from sfkeras.convert.discriminator import discriminator_config_from_official, discriminator_table
from sfkeras.convert.generator import generator_config_from_official, generator_table
from sfkeras.models.discriminator import Discriminator
from sfkeras.models.generator import Generator

SIGMAS = 6.0
KURTOSIS_TOLERANCE = 0.45
KURTOSIS_MIN_COUNT = 500


def _init_stats() -> dict:
    path = FIXTURES / "init_stats.json"
    if not path.exists():
        pytest.skip(f"reference fixture {path} is absent (needs ../shared beside the repo "
                    "or $SFKERAS_FIXTURES)")
    return json.loads(path.read_text())


def _fresh_tables(config: dict, seed: int) -> dict[str, object]:
    """Original name (``G.<name>``, ``D.<name>``) -> fresh variable, built with ``seed``."""
    keras.utils.set_random_seed(seed)
    generator = Generator(generator_config_from_official(config["generator"]), seed=seed)
    resolution = config["generator"]["resolution"]
    _, d_config = discriminator_config_from_official(
        {**config["discriminator"], "resolution": resolution, "conv_clamp": 256})
    discriminator = Discriminator(resolution, d_config)
    discriminator.build((None, resolution, resolution, 3))
    tables = {"G": generator_table(generator), "D": discriminator_table(discriminator)}
    return {f"{net}.{name}": target for net, table in tables.items()
            for name, target in table.items()}


def _moments(values: np.ndarray) -> tuple[float, float, float]:
    mean = float(values.mean())
    std = float(values.std())
    kurtosis = float(np.mean((values - mean) ** 4) / std**4 - 3.0) if std > 0 else math.nan
    return mean, std, kurtosis


@pytest.fixture(scope="module")
def init_stats():
    return _init_stats()


@pytest.mark.parametrize("name", ["shapes16", "linformer64_resnet"])
def test_fresh_networks_match_the_original_initialisation(init_stats, name):
    config = init_stats["configs"][name]
    seeds = int(init_stats["seeds"])
    expected = {k: v for k, v in config["tensors"].items()
                if not k.endswith("resample_filter")}
    pooled: dict[str, list[np.ndarray]] = {k: [] for k in expected}
    for seed in range(seeds):
        tables = _fresh_tables(config, seed)
        ours = {k for k in tables if not k.endswith("enc.proj_weight")}  # a shared copy
        assert ours == set(expected), (
            f"tensors differ: only ours {sorted(ours - set(expected))}, "
            f"only the original's {sorted(set(expected) - ours)}")
        for key, stats in expected.items():
            target = tables[key]
            # The import transform maps the original's shape onto the variable's.
            converted = np.shape(target.transform(np.zeros(stats["shape"])))
            assert converted == tuple(target.variable.shape), (key, stats["shape"])
            pooled[key].append(keras.ops.convert_to_numpy(target.variable))
    problems = []
    for key, stats in expected.items():
        values = np.concatenate([v.reshape(-1) for v in pooled[key]])
        mean, std, kurtosis = _moments(values)
        if stats["std"] == 0:
            if not np.all(values == stats["mean"]):
                problems.append(f"{key}: a constant {stats['mean']} in the original, here "
                                f"mean {mean:.4g} std {std:.3g}")
            continue
        count = stats["count_per_seed"] * seeds
        # Standard errors of the difference of two independent pooled estimates.
        std_error = stats["std"] * math.sqrt(
            (2 + max(stats["excess_kurtosis"], kurtosis)) / (4 * count) * 2)
        mean_error = stats["std"] * math.sqrt(2 / count)
        if abs(std - stats["std"]) > SIGMAS * std_error:
            problems.append(f"{key}: std {std:.4g}, the original's {stats['std']:.4g}")
        if abs(mean - stats["mean"]) > SIGMAS * mean_error:
            problems.append(f"{key}: mean {mean:.4g}, the original's {stats['mean']:.4g}")
        if count >= KURTOSIS_MIN_COUNT and \
                abs(kurtosis - stats["excess_kurtosis"]) > KURTOSIS_TOLERANCE:
            problems.append(f"{key}: excess kurtosis {kurtosis:.2f}, the original's "
                            f"{stats['excess_kurtosis']:.2f} (another distribution)")
    assert not problems, "\n".join(problems)
