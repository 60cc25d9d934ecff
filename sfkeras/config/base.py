"""Typed, validated configuration sections built from plain dictionaries.

Every section of ``params.yaml`` is a frozen dataclass deriving from :class:`Section`.
``Section.from_dict`` checks that every key is a field, converts YAML values to the
declared types (lists become tuples, ints become floats where a float is declared;
NaN and infinities are refused) and
raises :class:`ConfigError` naming the full key path (``train.batch_size``) and the fix.
Cross-field rules live in each section's ``validate`` method, which raises through
:meth:`Section.fail` so that messages always name the offending key.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import types
import typing
from typing import Any, Literal, TypeVar, Union, get_args, get_origin, get_type_hints

from sfkeras.errors import ConfigError

S = TypeVar("S", bound="Section")


@dataclasses.dataclass(frozen=True)
class Section:
    """Base class of all configuration sections (frozen dataclasses).

    Subclasses declare fields with type annotations and defaults and may override
    :meth:`validate` for rules that involve several fields.
    """

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Check cross-field rules; call :meth:`fail` on violation."""

    def fail(self, field: str, message: str) -> typing.NoReturn:
        """Raise a :class:`ConfigError` for ``field`` of this section.

        :meth:`from_dict` prefixes the key with the section's own path.
        """
        raise ConfigError(field, message)

    @classmethod
    def from_dict(cls: type[S], values: dict[str, Any] | None, path: str = "") -> S:
        """Build the section from a mapping, validating keys and types.

        Args:
            values: mapping of field names to YAML values (``None`` means all defaults).
            path: dotted path of this section, used in error messages.
        """
        values = dict(values or {})
        if not isinstance(values, dict):
            raise ConfigError(path, f"expected a mapping, got {type(values).__name__}")
        hints = get_type_hints(cls)
        fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
        unknown = [k for k in values if k not in fields]
        if unknown:
            key = unknown[0]
            close = difflib.get_close_matches(str(key), list(fields), n=1)
            hint = f"did you mean '{close[0]}'?" if close else f"valid keys: {', '.join(fields)}"
            raise ConfigError(_join(path, key), f"unknown key; {hint}")
        kwargs = {
            name: _convert(value, hints[name], _join(path, name)) for name, value in values.items()
        }
        try:
            return cls(**kwargs)
        except ConfigError as error:  # raised by validate(): name the full path
            if path and not error.key.startswith(path + "."):
                raise ConfigError(_join(path, error.key), error.message) from None
            raise
        except TypeError as error:  # a required field is missing
            raise ConfigError(path, str(error)) from None

    def to_dict(self) -> dict[str, Any]:
        """Plain-Python view (tuples become lists) suitable for YAML/JSON."""
        return {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)}

    def replace(self: S, **changes: Any) -> S:
        """Copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Recursively merge ``override`` into a copy of ``base`` (override wins)."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else str(key)


def _plain(value: Any) -> Any:
    if isinstance(value, Section):
        return value.to_dict()
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


def _type_name(annotation: Any) -> str:
    return getattr(annotation, "__name__", None) or str(annotation).replace("typing.", "")


def _convert(value: Any, annotation: Any, key: str) -> Any:
    """Convert a YAML value to ``annotation`` or raise a ConfigError naming ``key``."""
    origin = get_origin(annotation)
    if isinstance(annotation, type) and issubclass(annotation, Section):
        if isinstance(value, annotation):
            return value
        if not isinstance(value, dict):
            raise ConfigError(key, f"expected a mapping, got {value!r}")
        return annotation.from_dict(value, key)
    if origin in (Union, types.UnionType):
        options = get_args(annotation)
        if value is None and type(None) in options:
            return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _convert(value, option, key)
            except ConfigError as error:
                errors.append(error)
        if len(errors) == 1:  # ``X | None``: X's own message says more
            raise errors[0]
        raise ConfigError(key, f"expected {_type_name(annotation)}, got {value!r}")
    if origin is Literal:
        choices = get_args(annotation)
        if value not in choices:
            raise ConfigError(key, f"must be one of {list(choices)}, got {value!r}")
        return value
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise ConfigError(key, f"expected a list, got {value!r}")
        args = get_args(annotation)
        item_type = args[0] if args else Any
        return tuple(_convert(v, item_type, f"{key}[{i}]") for i, v in enumerate(value))
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(key, f"expected a mapping, got {value!r}")
        return dict(value)
    if annotation is Any:
        return value
    if annotation is bool:
        if not isinstance(value, bool):
            raise ConfigError(key, f"expected true or false, got {value!r}")
        return value
    if annotation is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(key, f"expected an integer, got {value!r}")
        return value
    if annotation is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(key, f"expected a number, got {value!r}")
        if not math.isfinite(value):
            raise ConfigError(key, f"expected a finite number, got {value!r}: NaN and "
                              "infinities are not settings (use null where a key allows it)")
        return float(value)
    if annotation is str:
        if not isinstance(value, str):
            raise ConfigError(key, f"expected a string, got {value!r}")
        return value
    raise TypeError(f"{key}: unsupported annotation {annotation!r}")
