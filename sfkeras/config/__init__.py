"""One source of truth for configuration: ``params.yaml`` -> validated :class:`Config`.

``params.yaml`` names a preset (:mod:`sfkeras.config.presets`) and overrides any of its
keys, section by section. :func:`load_config` merges the two and validates every key;
errors name the key (``train.batch_size: must be >= 1``) and say how to fix it.
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
from sfkeras.config.presets import DEFAULT_PRESET, PRESETS
from sfkeras.config.render import RenderConfig
from sfkeras.config.train import TrainConfig


@dataclasses.dataclass(frozen=True)
class Config(Section):
    """The whole experiment: one section per pipeline concern."""

    preset: str = DEFAULT_PRESET
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


def preset_params(name: str) -> dict[str, Any]:
    """The nested parameters of preset ``name`` (raises ConfigError if unknown)."""
    if name not in PRESETS:
        raise ConfigError("preset", f"unknown preset {name!r}; choose one of {sorted(PRESETS)}")
    return PRESETS[name]


def config_from_params(params: dict[str, Any]) -> Config:
    """Build a :class:`Config` from a parsed ``params.yaml`` (preset + overrides)."""
    # A section left empty in params.yaml (only comments) means "no overrides".
    params = {key: value for key, value in (params or {}).items() if value is not None}
    name = params.get("preset", DEFAULT_PRESET)
    merged = deep_merge(preset_params(name), params)
    return Config.from_dict(merged)


def load_config(path: str | pathlib.Path = "params.yaml") -> Config:
    """Read and validate ``params.yaml``."""
    path = pathlib.Path(path)
    if not path.exists():
        raise ConfigError("", f"{path} not found: run from the project root or pass --params")
    with path.open() as stream:
        try:
            params = yaml.safe_load(stream) or {}
        except yaml.YAMLError as error:
            raise ConfigError("", _yaml_error_message(path, error)) from None
    if not isinstance(params, dict):
        raise ConfigError("", f"{path} must hold a mapping of sections")
    return config_from_params(params)


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
    "preset_params",
]
