"""Run one DVC stage script and record what it read: ``python stage_probe.py STAGE OUT``.

Run in a project folder (``params.yaml``, ``data/``). Writes JSON to ``OUT``:
``exit`` (the stage's exit status), ``modules`` (the source files, relative to the
repository, of every ``sfkeras`` module imported) and ``params`` (every dotted
key the stage read from the configuration ``cli.load_config`` returned).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import pathlib
import runpy
import sys

import sfkeras
from sfkeras.config import Config
from sfkeras.config.base import Section

REPO = pathlib.Path(sfkeras.__file__).resolve().parents[1]


def _record_reads(read: set[str]) -> None:
    """Record into ``read`` every leaf key read from a configuration that
    ``load_config`` returned (the ``params.yaml`` the stage reads; a generator's own
    configuration loaded from a ``.keras`` file is not a params read)."""
    from sfkeras import cli

    paths: dict[int, str] = {}
    loaded: list[Config] = []  # kept alive, so that ids stay unique

    def register(section: Section, path: str) -> None:
        paths[id(section)] = path
        for field in dataclasses.fields(section):
            value = object.__getattribute__(section, field.name)  # not a read
            if isinstance(value, Section):
                register(value, f"{path}.{field.name}".lstrip("."))

    def load_config(*args, **kwargs) -> Config:
        config = original_load_config(*args, **kwargs)
        loaded.append(config)
        register(config, "")
        return config

    def getattribute(self, name):
        value = object.__getattribute__(self, name)
        path = paths.get(id(self))
        if path is not None and name in _field_names(type(self)) \
                and not isinstance(value, Section):
            read.add(f"{path}.{name}".lstrip("."))
        return value

    original_load_config = cli.load_config
    cli.load_config = load_config
    Section.__getattribute__ = getattribute


@functools.cache
def _field_names(section: type) -> frozenset[str]:
    return frozenset(field.name for field in dataclasses.fields(section))


def main(stage: str, out: str) -> None:
    read: set[str] = set()
    _record_reads(read)
    sys.argv = [stage]
    try:
        runpy.run_path(stage, run_name="__main__")
        code = 0
    except SystemExit as exit:
        code = exit.code or 0
    modules = sorted({
        str(pathlib.Path(module.__file__).resolve().relative_to(REPO))
        for name, module in list(sys.modules.items())
        if (name == "sfkeras" or name.startswith("sfkeras.")) and getattr(module, "__file__", None)
    })
    pathlib.Path(out).write_text(json.dumps({"exit": code, "modules": modules,
                                             "params": sorted(read)}))


if __name__ == "__main__":
    main(*sys.argv[1:])
