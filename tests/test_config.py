import dataclasses
import re

import pytest
import yaml

from sfkeras.cli import main
from sfkeras.config import (
    PRESETS,
    Config,
    ConfigError,
    GeneratorConfig,
    Section,
    config_from_params,
    load_config,
    preset_config,
    preset_params_yaml,
)
from sfkeras.config.base import deep_merge
from sfkeras.config.params_file import field_descriptions, render_params


def test_default_params_yaml_is_valid():
    config = load_config("params.yaml")
    assert isinstance(config, Config)
    assert config.data.resolution == config.generator.resolution


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_is_valid(name):
    config = config_from_params({"preset": name})
    assert config == preset_config(name)
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
        if isinstance(value, Section):
            yield from _keys(value, f"{prefix}{field.name}.")
        else:
            yield f"{prefix}{field.name}"


def test_committed_params_yaml_is_the_default_preset_written_by_the_command(capsys):
    assert main(["params", "--preset", "shapes16"]) == 0
    assert open("params.yaml").read() == capsys.readouterr().out


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_written_params_list_every_key_with_a_comment_and_load_back(name, tmp_path):
    text = preset_params_yaml(name)
    for key in _keys(Config()):
        leaf = key.split(".")[-1]
        assert re.search(rf"^ +{leaf}: .+  # \S", text, re.M), f"{key} lacks a commented line"
    path = tmp_path / "params.yaml"
    path.write_text(text)
    assert load_config(path) == preset_config(name)


def test_derived_values_are_written_as_numbers_with_their_formula():
    text = preset_params_yaml("stl10")
    line = next(line for line in text.splitlines() if line.strip().startswith("r1_gamma:"))
    assert yaml.safe_load(line)["r1_gamma"] == pytest.approx(0.0002 * 48**2 / 64)
    assert line.endswith("[auto: 0.0002 * resolution^2 / batch_size = 0.0002 * 48^2 / 64]")
    assert "Written by `sfkeras params --preset stl10`" in text


def test_a_missing_key_names_the_key_and_the_command(tmp_path):
    params = yaml.safe_load(preset_params_yaml("shapes16"))
    del params["data"]["shapes"]["seed"]
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.key == "data.shapes.seed"
    assert "sfkeras params --preset NAME" in str(info.value)


@pytest.mark.parametrize("params,key,fragment", [
    ({"train": {"r1_gama": 0.1}}, "train.r1_gama", "did you mean 'r1_gamma'"),
    ({"preset": "shapes16"}, "preset", "sfkeras init --preset NAME --force"),
])
def test_an_unknown_key_in_the_file_fails_naming_it(params, key, fragment, tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(deep_merge(yaml.safe_load(preset_params_yaml("shapes16")),
                                              params)))
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.key == key
    assert fragment in str(info.value)


def test_init_writes_a_preset_and_refuses_to_overwrite_without_force(tmp_path, capsys):
    path = tmp_path / "params.yaml"
    assert main(["init", "--preset", "cifar10", "--params", str(path)]) == 0
    assert load_config(path) == preset_config("cifar10")
    assert main(["init", "--preset", "shapes16", "--params", str(path)]) == 2
    assert "pass --force" in capsys.readouterr().err
    assert load_config(path) == preset_config("cifar10")
    assert main(["init", "--preset", "shapes16", "--params", str(path), "--force"]) == 0
    assert load_config(path) == preset_config("shapes16")


@dataclasses.dataclass(frozen=True)
class _Inner(Section):
    """Inner section.

    Attributes:
        size: how big. Second sentence, not shown.
        low, high: the bounds, e.g. ``[0, 1]``.
    """

    size: int = 3
    low: float = 0.0
    high: float | None = None


@dataclasses.dataclass(frozen=True)
class _Outer(Section):
    """Outer section."""

    inner: _Inner = _Inner()


def test_a_new_field_appears_in_written_files_with_its_docstring():
    assert field_descriptions(_Inner) == {"size": "how big", "low": "the bounds, e.g. `[0, 1]`",
                                          "high": "the bounds, e.g. `[0, 1]`"}
    text = render_params(_Outer(), notes={"inner.size": "3 by rule"})
    assert text.splitlines() == [
        "", "# --- inner: Inner section.", "inner:",
        "  size: 3  # how big [3 by rule]",
        "  low: 0.0  # the bounds, e.g. `[0, 1]`",
        "  high: null  # the bounds, e.g. `[0, 1]`",
    ]
    assert _Outer.from_dict(yaml.safe_load(text)) == _Outer()
