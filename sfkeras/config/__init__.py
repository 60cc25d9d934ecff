"""One source of truth for configuration: ``params.yaml`` -> validated :class:`Config`.

``params.yaml`` lists every key of every section (:mod:`sfkeras.config.params_file`
writes it); :func:`load_config` reads it strictly: a missing or unknown key fails,
naming the key and the fix, and every value is validated (``train.batch_size: must be
>= 1``). Presets (:mod:`sfkeras.config.presets`) are named starting points that write
such a file (:func:`preset_params_yaml`, ``sfkeras params --preset NAME``); code and
tests build a configuration from one with :func:`preset_config` or
:func:`config_from_params` (preset + partial overrides).
"""

from __future__ import annotations

import dataclasses
import pathlib
from typing import Any

import yaml

from sfkeras.config.augment import AugmentConfig
from sfkeras.config.base import ConfigError, Section, deep_merge
from sfkeras.config.data import DataConfig
from sfkeras.config.discriminator import DiscriminatorConfig
from sfkeras.config.evaluate import EvaluateConfig
from sfkeras.config.export import ExportConfig
from sfkeras.config.generator import GeneratorConfig
from sfkeras.config.params_file import missing_key, render_params
from sfkeras.config.presets import DEFAULT_PRESET, PRESETS
from sfkeras.config.render import RenderConfig
from sfkeras.config.train import TrainConfig


@dataclasses.dataclass(frozen=True)
class Config(Section):
    """The whole experiment: one section per pipeline concern."""

    data: DataConfig = DataConfig()
    generator: GeneratorConfig = GeneratorConfig()
    discriminator: DiscriminatorConfig = DiscriminatorConfig()
    augment: AugmentConfig = AugmentConfig()
    train: TrainConfig = TrainConfig()
    evaluate: EvaluateConfig = EvaluateConfig()
    render: RenderConfig = RenderConfig()
    export: ExportConfig = ExportConfig()

    def validate(self) -> None:
        if self.data.resolution != self.generator.resolution:
            self.fail("data.resolution", f"is {self.data.resolution} but "
                      f"generator.resolution is {self.generator.resolution}: set both to the "
                      "same size")


#: How to write a complete params file, named in every error about a missing key.
_REGENERATE = "sfkeras params --preset NAME > params.yaml (or sfkeras init --preset NAME --force)"


def preset_params(name: str) -> dict[str, Any]:
    """The nested (partial) parameters of preset ``name`` (raises ConfigError if unknown)."""
    if name not in PRESETS:
        raise ConfigError("preset", f"unknown preset {name!r}; choose one of {sorted(PRESETS)}")
    return PRESETS[name].params


def preset_config(name: str, overrides: dict[str, Any] | None = None) -> Config:
    """The configuration of preset ``name`` with ``overrides`` (a partial nested
    mapping, as in ``params.yaml``) merged on top, validated."""
    return Config.from_dict(deep_merge(preset_params(name), overrides or {}))


def config_from_params(params: dict[str, Any]) -> Config:
    """:func:`preset_config` of ``params["preset"]`` (default :data:`DEFAULT_PRESET`)
    with the other keys of ``params`` as overrides: a compact way for code and tests
    to describe a configuration. ``params.yaml`` itself is read by :func:`load_config`."""
    overrides = dict(params or {})
    return preset_config(overrides.pop("preset", DEFAULT_PRESET), overrides)


def preset_params_yaml(name: str, overrides: dict[str, Any] | None = None) -> str:
    """The complete ``params.yaml`` text of :func:`preset_config` ``(name, overrides)``.

    The header records the preset the file came from; values the preset derived from
    others (StyleGAN2-ADA's ``auto`` ``r1_gamma``) are written as numbers with the
    formula in their comment.
    """
    header = (f"# sfkeras parameters: the whole configuration of the pipeline, every key.\n"
              f"# Written by `sfkeras params --preset {name}`. The preset is not read again: "
              f"edit any value,\n# or start over with `sfkeras init --preset NAME --force`. "
              f"Variants: `dvc exp run -S train.r1_gamma=0.01`.")
    return render_params(preset_config(name, overrides), header=header,
                         notes=PRESETS[name].notes)


def load_config(path: str | pathlib.Path = "params.yaml") -> Config:
    """Read and validate a complete ``params.yaml``.

    Raises:
        ConfigError: the file is missing, a key is missing or unknown, or a value is
            invalid; the message names the key and the fix.
    """
    path = pathlib.Path(path)
    if not path.exists():
        raise ConfigError("", f"{path} not found: run from the project root, pass --params, "
                          f"or write one with {_REGENERATE}")
    with path.open() as stream:
        try:
            params = yaml.safe_load(stream) or {}
        except yaml.YAMLError as error:
            raise ConfigError("", _yaml_error_message(path, error)) from None
    if not isinstance(params, dict):
        raise ConfigError("", f"{path} must hold a mapping of sections")
    if "preset" in params:
        raise ConfigError("preset", f"{path} names a preset, but params.yaml now lists every "
                          f"key and presets only write it: run {_REGENERATE}, then re-apply "
                          "your changes")
    config = Config.from_dict(params)  # unknown keys and bad values first: they say more
    missing = missing_key(params, Config)
    if missing:
        raise ConfigError(missing, f"missing from {path}, which must list every key: add it "
                          f"(`sfkeras params --preset NAME` prints each key with its value), "
                          f"or rewrite the file with {_REGENERATE}")
    return config


def _yaml_error_message(path: pathlib.Path, error: yaml.YAMLError) -> str:
    """``FILE:LINE:COL: problem ...`` (1-based) of a YAML syntax error, and the fix."""
    mark = getattr(error, "problem_mark", None)
    where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark is not None else str(path)
    problem = getattr(error, "problem", None) or str(error).splitlines()[0]
    context = getattr(error, "context", None)
    detail = f"{problem} ({context})" if context else problem
    return (f"{where}: {detail}: not valid YAML; fix the syntax there (indentation by "
            "spaces, `key: value`, quotes closed)")


__all__ = [
    "AugmentConfig",
    "Config",
    "ConfigError",
    "DataConfig",
    "DiscriminatorConfig",
    "EvaluateConfig",
    "ExportConfig",
    "GeneratorConfig",
    "PRESETS",
    "RenderConfig",
    "Section",
    "TrainConfig",
    "config_from_params",
    "load_config",
    "preset_config",
    "preset_params",
    "preset_params_yaml",
]
