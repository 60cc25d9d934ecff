"""Metric protocol names: StyleGAN2-ADA's reported metrics and the small CPU ones."""

from __future__ import annotations

import pytest

from sfkeras.config.base import ConfigError
from sfkeras.config.evaluate import EvaluateConfig
from sfkeras.config.metric_names import parse_metric


@pytest.mark.parametrize(
    ("name", "kind", "num_gen", "max_real", "nhood_size"),
    [
        ("fid50k_full", "fid", 50_000, None, None),
        ("kid50k_full", "kid", 50_000, 1_000_000, None),
        ("pr50k3_full", "pr", 50_000, 200_000, 3),
        ("fid50k", "fid", 50_000, 50_000, None),
        ("fid2k", "fid", 2_000, 2_000, None),
        ("kid2k", "kid", 2_000, 2_000, None),
        ("pr2k3", "pr", 2_000, 2_000, 3),
        ("fid10k_full", "fid", 10_000, None, None),
    ],
)
def test_parse_known_names(name, kind, num_gen, max_real, nhood_size):
    spec = parse_metric(name)
    assert (spec.name, spec.kind, spec.num_gen, spec.max_real, spec.nhood_size) == (
        name, kind, num_gen, max_real, nhood_size)


def test_kid_uses_the_original_subsets():
    spec = parse_metric("kid50k_full")
    assert (spec.num_subsets, spec.max_subset_size) == (100, 1000)
    assert spec.needs_all_features and not parse_metric("fid2k").needs_all_features


def test_result_keys():
    assert parse_metric("fid2k").result_keys() == ("fid2k",)
    assert parse_metric("pr50k3_full").result_keys() == (
        "pr50k3_full_precision", "pr50k3_full_recall")


@pytest.mark.parametrize(
    "name", ["fid", "fid50", "FID50k", "fid0k", "fid50k3", "pr50k", "pr50k3_ful", "is50k",
             "ppl2_wend", "kid2k_full_", " fid2k"],
)
def test_unknown_names_are_rejected_with_the_grammar(name):
    grammar = "fid<N>k, kid<N>k or pr<N>k<K>"
    with pytest.raises(ValueError, match=rf"unknown metric '{name}'.*{grammar}"):
        parse_metric(name)


def test_config_rejects_unknown_metric_names_early():
    assert EvaluateConfig.from_dict({"metrics": ["fid50k_full", "pr2k3"]}).metrics == (
        "fid50k_full", "pr2k3")
    with pytest.raises(ConfigError, match="evaluate.metrics: unknown metric 'fid50k_ful'"):
        EvaluateConfig.from_dict({"metrics": ["fid50k_ful"]}, "evaluate")
    with pytest.raises(ConfigError, match="evaluate.metrics: name at least one"):
        EvaluateConfig.from_dict({"metrics": []}, "evaluate")
    with pytest.raises(ConfigError, match="evaluate.num_images"):
        EvaluateConfig.from_dict({"num_images": 1}, "evaluate")
