"""The experiment commands of the README and docs/EXPERIMENTS.md work as written on the
committed params.yaml.

Each ``dvc exp run -S key=value`` of those pages sets a key that params.yaml holds
(DVC refuses other keys without ``+``) to a value the configuration accepts; each
``sfkeras init`` command writes a valid file. The real ``dvc exp run`` is too long for
a unit test; this checks what it depends on, in the same order.
"""

from __future__ import annotations

import re
import shlex

import pytest
import yaml
from conftest import REPO_ROOT

from sfkeras.cli import main
from sfkeras.config import load_config, preset_config

#: The pages whose bash blocks hold experiment commands.
PAGES = ("README.md", "docs/EXPERIMENTS.md")


def _commands(prefix: str) -> list[list[str]]:
    """Every command line of :data:`PAGES`' bash blocks that starts with ``prefix``."""
    text = "\n".join((REPO_ROOT / page).read_text() for page in PAGES)
    blocks = re.findall(r"```bash\n(.*?)```", text, re.S)
    lines = [line.split("  #")[0].strip() for block in blocks for line in block.splitlines()]
    return [shlex.split(part) for line in lines for part in line.split(" && ")
            if part.startswith(prefix)]


def _set(params: dict, assignment: str) -> None:
    """``dvc exp run -S key=value`` on a parsed params.yaml (the key must exist)."""
    key, value = assignment.split("=", 1)
    *parents, leaf = key.split(".")
    node = params
    for parent in parents:
        node = node[parent]
    assert leaf in node, f"-S {key}: not in params.yaml (DVC would need +{key})"
    node[leaf] = yaml.safe_load(value)


def _apply(params: dict, command: list[str]) -> dict:
    for flag, value in zip(command, command[1:], strict=False):
        if flag == "-S":
            _set(params, value)
    return params


@pytest.mark.parametrize("command", _commands("dvc exp run"), ids=" ".join)
def test_readme_experiments_set_existing_keys_to_valid_values(command, tmp_path):
    params = _apply(yaml.safe_load((REPO_ROOT / "params.yaml").read_text()), command)
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    load_config(path)


def test_readme_shows_experiments():
    assert len(_commands("dvc exp run")) >= 3


@pytest.mark.parametrize("command", _commands("sfkeras init"), ids=" ".join)
def test_readme_init_commands_write_valid_params(command, tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("an old file\n")
    assert main([*command[1:], "--params", str(path)]) == 0
    assert load_config(path) == preset_config(command[command.index("--preset") + 1])
