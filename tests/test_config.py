import dataclasses
import re

import pytest
import yaml

from sfkeras.config import (
    PRESETS,
    Config,
    ConfigError,
    GeneratorConfig,
    Section,
    config_from_params,
    load_config,
)
from sfkeras.config.base import deep_merge


def test_default_params_yaml_is_valid():
    config = load_config("params.yaml")
    assert isinstance(config, Config)
    assert config.data.resolution == config.generator.resolution


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_is_valid(name):
    config = config_from_params({"preset": name})
    assert config.preset == name
    assert config.generator.block_resolutions[-1] == config.generator.resolution


def test_overrides_apply_on_top_of_the_preset():
    config = config_from_params({"preset": "cifar10", "train": {"kimg": 5}})
    assert config.train.kimg == 5.0
    assert config.train.r1_gamma == 0.01  # from the preset
    assert config.generator.hidden == (1024, 512, 512)


@pytest.mark.parametrize(
    "params,key,fragment",
    [
        ({"train": {"bach_size": 3}}, "train.bach_size", "did you mean 'batch_size'"),
        ({"trian": {}}, "trian", "did you mean 'train'"),
        ({"train": {"batch_size": "many"}}, "train.batch_size", "expected an integer"),
        ({"train": {"batch_size": 0}}, "train.batch_size", "must be >= 1"),
        ({"augment": {"mode": "sometimes"}}, "augment.mode", "must be one of"),
        ({"generator": {"hidden": [100, 64]}}, "generator.hidden", "not divisible"),
        ({"generator": {"hidden": [64, 64, 64]}}, "generator.hidden", "entries"),
        ({"generator": {"resolution": 40}}, "generator.resolution", "power of two"),
        ({"data": {"resolution": 64}}, "data.resolution", "generator.resolution"),
        ({"data": {"tfds": {"splits": "train"}}}, "data.tfds.splits", "expected a list"),
        ({"preset": "imagenet"}, "preset", "unknown preset"),
        ({"train": {"cpu_replicas": 0}}, "train.cpu_replicas", "must be >= 1"),
        ({"train": {"cpu_replicas": 2, "strategy": "default"}}, "train.cpu_replicas",
         "needs strategy auto or mirrored"),
        ({"train": {"cpu_replicas": 2, "xla": True}}, "train.cpu_replicas", "xla to false"),
        ({"train": {"cpu_replicas": 3}}, "train.cpu_replicas", "not divisible"),
    ],
)
def test_bad_keys_name_the_key_and_the_fix(params, key, fragment):
    with pytest.raises(ConfigError) as info:
        config_from_params(params)
    assert info.value.key == key
    assert fragment in str(info.value)


def test_num_ws_counts_layers_and_torgbs_like_the_original():
    # The fixtures' ablation model has 5 encoder layers and 3 resolutions -> 8 ws.
    assert GeneratorConfig(num_layers=(1, 2, 2), hidden=(256, 64, 16)).num_ws == 8
    hybrid = GeneratorConfig(resolution=64, num_layers=(1, 1, 1, 2), hidden=(64, 32, 32, 16),
                             styleformer_max_resolution=32)
    assert hybrid.layer_ws == (1, 1, 1, 4)
    assert hybrid.num_ws == 7 + 4


def test_configs_are_frozen_and_round_trip_to_dict():
    config = config_from_params({"preset": "celeba_linformer"})
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.train.kimg = 1.0  # type: ignore[misc]
    again = Config.from_dict(yaml.safe_load(yaml.safe_dump(config.to_dict())))
    assert again == config


def test_deep_merge_keeps_unrelated_keys():
    merged = deep_merge({"a": {"x": 1, "y": 2}, "b": 1}, {"a": {"y": 3}})
    assert merged == {"a": {"x": 1, "y": 3}, "b": 1}


def _keys(section, prefix=""):
    for field in dataclasses.fields(section):
        value = getattr(section, field.name)
        yield f"{prefix}{field.name}"
        if isinstance(value, Section):
            yield from _keys(value, f"{prefix}{field.name}.")


def test_params_yaml_documents_every_key():
    text = open("params.yaml").read()
    for key in _keys(Config()):
        name = key.split(".")[-1]
        assert re.search(rf"^\s*(# )?{name}:", text, re.M), f"params.yaml does not document {key}"
