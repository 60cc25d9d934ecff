"""Metrics are computed once per generator file and protocol: evaluate reuses training's."""

from __future__ import annotations

import json

import pytest

from sfkeras.cli import main
from sfkeras.config import DataConfig, EvaluateConfig, preset_params_yaml
from sfkeras.config.data import ShapesSourceConfig
from sfkeras.data import prepare_dataset
from sfkeras.metrics.reuse import (
    evaluation_protocol,
    record_path,
    recorded_results,
    training_protocol,
    write_record,
)

SETTINGS = EvaluateConfig(metrics=("fid1k", "kid1k"), num_images=16)
RESULTS = {"fid1k": 12.5, "kid1k": 0.25}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    config = DataConfig(name="tiny", resolution=16,
                        shapes=ShapesSourceConfig(num_train=8, num_test=0))
    return prepare_dataset(config, tmp_path_factory.mktemp("prepared"), progress=False)


@pytest.fixture
def network(tmp_path):
    path = tmp_path / "G_ema.keras"
    path.write_bytes(b"not a network: reusing must not load it")
    return path


def test_a_record_is_reused_only_for_the_same_file_and_protocol(dataset, network):
    protocol = training_protocol(SETTINGS, dataset)
    assert protocol == evaluation_protocol(SETTINGS, dataset)  # psi 1: the same protocol
    assert record_path(network) == network.with_name("G_ema.metrics.json")
    assert recorded_results(network, protocol) is None  # no record yet
    write_record(record_path(network), network, protocol, RESULTS)
    assert recorded_results(network, protocol) == RESULTS
    assert recorded_results(network, evaluation_protocol(
        SETTINGS.replace(seed=1), dataset)) is None
    assert recorded_results(network, evaluation_protocol(
        SETTINGS.replace(truncation_psi=0.7), dataset)) is None
    network.write_bytes(b"another network")
    assert recorded_results(network, protocol) is None


def test_a_record_without_results_matches_nothing(dataset, network):
    write_record(record_path(network), network, None, None)
    assert recorded_results(network, training_protocol(SETTINGS, dataset)) is None


def test_evaluate_reuses_the_recorded_metrics(dataset, network, tmp_path, capsys):
    params = tmp_path / "params.yaml"
    params.write_text(preset_params_yaml("shapes16", {"evaluate": SETTINGS.to_dict()}))
    write_record(record_path(network), network, training_protocol(SETTINGS, dataset), RESULTS)
    out = tmp_path / "eval"
    assert main(["evaluate", "--params", str(params), "--network", str(network),
                 "--data", str(dataset), "--out", str(out)]) == 0
    assert json.loads((out / "metrics.json").read_text()) == RESULTS
    assert "reusing" in capsys.readouterr().out
