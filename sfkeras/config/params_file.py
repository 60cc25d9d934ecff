"""``params.yaml`` as a complete, commented file: written from a :class:`Config`, read strictly.

:func:`render_params` writes every key of every section, in the dataclasses' field
order, one key per line with its value and a one-line comment: the first sentence of
the field's description in its section's ``Attributes:`` docstring, plus the preset's
note where the preset derived the value from others (the number is written, the
comment gives the formula). New config fields therefore appear in generated files
without any change here.

:func:`missing_key` is the other half of strictness (unknown keys are caught by
:meth:`Section.from_dict`): a params file must list every key, so that DVC can set,
show and diff each of them.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import re
from collections.abc import Iterator, Mapping
from typing import Any, get_type_hints

import yaml

from sfkeras.config.base import Section

#: ``name: text`` or ``name, other: text`` at the first indentation of ``Attributes:``.
_ATTRIBUTE_LINE = re.compile(r"^(\w+(?:, \w+)*): (.*)$")
#: A sentence ends at ``. `` unless the dot closes a usual abbreviation.
_SENTENCE_END = re.compile(r"(?<!e\.g)(?<!i\.e)(?<!etc)\.\s")


def field_descriptions(section: type[Section]) -> dict[str, str]:
    """``{field: one-line description}`` from the ``Attributes:`` block of ``section``.

    The description is the first sentence of the field's entry, with reStructuredText
    double back-quotes shown as single ones. A field without an entry maps to ``""``.
    """
    return dict(_field_descriptions(section))


@functools.cache
def _field_descriptions(section: type[Section]) -> tuple[tuple[str, str], ...]:
    doc = inspect.getdoc(section) or ""
    entries: dict[str, list[str]] = {}
    lines = iter(doc.splitlines())
    for line in lines:
        if line.strip() == "Attributes:":
            break
    current: list[str] = []
    for line in lines:
        if not line.strip():
            break
        match = _ATTRIBUTE_LINE.match(line[4:]) if line.startswith("    ") and \
            not line.startswith("     ") else None
        if match:
            current = [match.group(2)]
            for name in match.group(1).split(", "):
                entries[name] = current
        else:
            current.append(line.strip())
    descriptions = []
    for field in dataclasses.fields(section):
        text = " ".join(entries.get(field.name, [])).replace("``", "`")
        first = _SENTENCE_END.split(text, maxsplit=1)[0].rstrip(".")
        descriptions.append((field.name, first))
    return tuple(descriptions)


def render_params(config: Section, *, header: str = "",
                  notes: Mapping[str, str] | None = None) -> str:
    """The complete ``params.yaml`` text of ``config``.

    Args:
        config: the whole configuration (a :class:`Section` whose fields are sections).
        header: comment lines written first (each already starting with ``#``).
        notes: dotted key -> text appended to that key's comment in brackets (e.g.
            how a preset derived the value).

    Returns:
        YAML that :func:`yaml.safe_load` reads back to ``config.to_dict()``.
    """
    lines = [header.rstrip("\n")] if header else []
    for field in dataclasses.fields(config):
        section = getattr(config, field.name)
        lines += ["", f"# --- {field.name}: {_summary(type(section))}"]
        lines += _section_lines(section, field.name, 0, notes or {})
    return "\n".join(lines) + "\n"


def _section_lines(section: Section, path: str, depth: int,
                   notes: Mapping[str, str]) -> Iterator[str]:
    indent = "  " * depth
    yield f"{indent}{path.rsplit('.', 1)[-1]}:"
    descriptions = field_descriptions(type(section))
    for field in dataclasses.fields(section):
        key = f"{path}.{field.name}"
        value = getattr(section, field.name)
        if isinstance(value, Section):
            yield from _section_lines(value, key, depth + 1, notes)
            continue
        comment = descriptions[field.name]
        if key in notes:
            comment = f"{comment} [{notes[key]}]" if comment else notes[key]
        line = f"{indent}  {field.name}: {_flow_yaml(value)}"
        yield f"{line}  # {comment}" if comment else line


def _summary(section: type[Section]) -> str:
    """First line of the section's docstring."""
    return (inspect.getdoc(section) or "").splitlines()[0]


def _flow_yaml(value: Any) -> str:
    """``value`` as one line of YAML (lists in flow style)."""
    plain = value.to_dict() if isinstance(value, Section) else _lists(value)
    text = yaml.safe_dump(plain, default_flow_style=True, width=float("inf"))
    return text.removesuffix("\n").removesuffix("\n...")


def _lists(value: Any) -> Any:
    return [_lists(item) for item in value] if isinstance(value, tuple | list) else value


def missing_key(values: Mapping[str, Any], section: type[Section], path: str = "") -> str | None:
    """The first key of ``section`` (dotted, with ``path``) that ``values`` lacks, if any.

    Nested sections are checked when present as mappings (anything else fails later,
    in :meth:`Section.from_dict`, with a type error naming the key).
    """
    for field in dataclasses.fields(section):
        key = f"{path}.{field.name}" if path else field.name
        if field.name not in values:
            return key
        nested = _section_type(section, field.name)
        if nested is not None and isinstance(values[field.name], Mapping):
            missing = missing_key(values[field.name], nested, key)
            if missing:
                return missing
    return None


def _section_type(section: type[Section], name: str) -> type[Section] | None:
    """The :class:`Section` subclass declared for field ``name``, if it is one."""
    annotation = get_type_hints(section)[name]
    return annotation if isinstance(annotation, type) and issubclass(annotation, Section) \
        else None
