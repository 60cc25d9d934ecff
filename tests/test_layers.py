"""The package's layers only look down, and no import closes a cycle.

The layer order is import-linter's contract in ``pyproject.toml``; import-linter (through
grimp) reads every import statement, at module level or inside a function. The cycle
check walks grimp's graph of the same imports. Both run on the source tree, so the
failure cases below run them on a copy of ``sfkeras`` with one import added.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap

import pytest
from conftest import REPO_ROOT

CHECK = textwrap.dedent("""
    import sys
    import grimp
    from importlinter.cli import lint_imports

    graph = grimp.build_graph("sfkeras", cache_dir=None)
    cycles = sorted((module, imported) for module in graph.modules
                    for imported in graph.find_modules_directly_imported_by(module)
                    if graph.chain_exists(importer=imported, imported=module))
    for module, imported in cycles:
        print(f"cycle: {module} -> {imported} -> ... -> {module}")
    layers = lint_imports(config_filename=sys.argv[1], no_cache=True, no_logo=True)
    sys.exit(1 if cycles or layers else 0)
""")


def _check(package_parent) -> subprocess.CompletedProcess:
    """Run the layer contract and the cycle check on the ``sfkeras`` in ``package_parent``."""
    env = {**os.environ, "PYTHONPATH": str(package_parent)}
    return subprocess.run([sys.executable, "-c", CHECK, str(REPO_ROOT / "pyproject.toml")],
                          capture_output=True, text=True, env=env, cwd=package_parent)


def test_the_package_keeps_its_layers_and_has_no_cycles():
    result = _check(REPO_ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture
def package_copy(tmp_path):
    shutil.copytree(REPO_ROOT / "sfkeras", tmp_path / "sfkeras",
                    ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path


def _add(path, text: str) -> None:
    with path.open("a") as stream:
        stream.write("\n" + textwrap.dedent(text))


def test_an_upward_import_inside_a_function_breaks_the_layers(package_copy):
    _add(package_copy / "sfkeras" / "layers" / "dense.py", """
        def _upward():
            from sfkeras.training import run  # noqa: F401
        """)
    result = _check(package_copy)
    assert result.returncode == 1
    assert "sfkeras.layers is not allowed to import sfkeras.training" in result.stdout


def test_a_cycle_within_a_layer_is_found(package_copy):
    _add(package_copy / "sfkeras" / "ops" / "fir.py", "import sfkeras.ops.activation  # noqa\n")
    _add(package_copy / "sfkeras" / "ops" / "activation.py", "import sfkeras.ops.fir  # noqa\n")
    result = _check(package_copy)
    assert result.returncode == 1
    assert "cycle: sfkeras.ops.activation -> sfkeras.ops.fir" in result.stdout
