"""The command line fails politely: one line per error naming the kind, a distinct exit
code per kind (documented in ``--help``), tracebacks only with ``--debug``."""

import argparse
import importlib
import inspect
import pkgutil

import pytest
from conftest import REPO_ROOT

import sfkeras
import sfkeras.errors
from sfkeras.cli import build_parser, main
from sfkeras.config import ConfigError, preset_params_yaml
from sfkeras.data import DataError
from sfkeras.errors import (
    EXIT_CODES,
    CheckpointMismatchError,
    SfkerasError,
    TrainingDiverged,
)


@pytest.fixture
def params(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text(preset_params_yaml("shapes16"))
    return str(path)


def _one_error_line(capsys) -> str:
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def _all_subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _all_subclasses(sub)


def test_every_error_kind_has_its_row_in_the_exit_code_table(capsys):
    for module in pkgutil.walk_packages(sfkeras.__path__, "sfkeras."):
        importlib.import_module(module.name)
    kinds = {cls.__name__: cls for cls in _all_subclasses(SfkerasError)}
    assert {"ConfigError", "DataError", "CheckpointMismatchError", "TrainingDiverged",
            "WeightImportError", "SnapshotError", "MissingFileError"} <= set(kinds)
    for name, cls in kinds.items():
        assert EXIT_CODES[cls.exit_code][0] == cls.kind, name
    with pytest.raises(SystemExit):
        main(["--help"])
    help_text = capsys.readouterr().out
    for code, (kind, _) in EXIT_CODES.items():
        assert f"{code:3d}  {kind}" in help_text


def test_every_error_class_and_exit_code_is_defined_in_sfkeras_errors():
    for module in pkgutil.walk_packages(sfkeras.__path__, "sfkeras."):
        importlib.import_module(module.name)
    elsewhere = {f"{cls.__module__}.{cls.__qualname__}" for cls in _all_subclasses(SfkerasError)
                 if cls.__module__ != "sfkeras.errors"}
    assert not elsewhere, sorted(elsewhere)


def _readme_exit_codes() -> list[tuple[int, str]]:
    """``(code, kind)`` of every row of README's table under "## Exit codes"."""
    readme = (REPO_ROOT / "README.md").read_text()
    section = readme.split("\n## Exit codes\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("|")]
    assert [cell.strip() for cell in rows[0].strip("|").split("|")] == ["code", "kind",
                                                                         "meaning"]
    cells = [[cell.strip() for cell in row.strip("|").split("|")] for row in rows[2:]]
    return [(int(code), kind) for code, kind, _ in cells]


def test_readme_exit_code_table_matches_the_error_classes():
    assert _readme_exit_codes() == [(code, kind) for code, (kind, _) in EXIT_CODES.items()]
    documented = dict(_readme_exit_codes())
    for name, cls in inspect.getmembers(sfkeras.errors, inspect.isclass):
        if issubclass(cls, SfkerasError) and cls is not SfkerasError:
            assert documented[cls.exit_code] == cls.kind, name


def test_version_and_every_flag_has_help(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"sfkeras {sfkeras.__version__}"
    parser = build_parser()
    subcommands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, sub in [("sfkeras", parser), *subcommands.choices.items()]:
        for action in sub._actions:
            if action.option_strings or action.dest == "presets":
                assert action.help, f"{name} {action.option_strings} has no help"


def test_configuration_error(tmp_path, capsys):
    path = tmp_path / "params.yaml"
    path.write_text(preset_params_yaml("shapes16").replace("  batch_size:", "  batch_sise:"))
    assert main(["config", "--params", str(path)]) == 2
    line = _one_error_line(capsys)
    assert line.startswith("sfkeras: configuration error:") and "batch_sise" in line


def test_missing_input_file(tmp_path, capsys):
    missing = tmp_path / "absent.keras"
    assert main(["generate", "--network", str(missing), "--seeds", "0"]) == 10
    line = _one_error_line(capsys)
    assert line.startswith("sfkeras: missing file:") and str(missing) in line
    assert main(["import-weights", "--config", str(tmp_path / "c.json"), "--state",
                 str(tmp_path / "s.npz"), "--out", str(tmp_path / "G.keras")]) == 10
    assert "c.json" in _one_error_line(capsys)


def test_weights_error(tmp_path, capsys):
    bad = tmp_path / "network-snapshot.pkl"
    bad.write_bytes(b"not a pickle")
    assert main(["generate", "--network", str(bad), "--seeds", "0"]) == 6
    line = _one_error_line(capsys)
    assert line.startswith("sfkeras: weights error:") and str(bad) in line


def test_usage_errors_exit_with_2(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["generate", "--noise-mode", "loud"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'loud'" in capsys.readouterr().err
    assert main(["generate", "--out", "x"]) == 2  # neither --seeds nor --projected-w
    assert "--seeds" in _one_error_line(capsys)


@pytest.mark.parametrize("error, code, kind", [
    (DataError("data/prepared/x: not a prepared data set; run sfkeras prepare"), 3,
     "data error"),
    (CheckpointMismatchError("refusing to resume from data/train/checkpoints/k"), 4,
     "checkpoint error"),
    (TrainingDiverged("loss_Gmain is nan at step 3"), 5, "training diverged"),
    (ConfigError("train.kimg", "must be positive"), 2, "configuration error"),
    (FileNotFoundError(2, "No such file or directory", "data/prepared/x/dataset.json"), 10,
     "missing file"),
])
def test_errors_raised_while_training(monkeypatch, params, capsys, error, code, kind):
    def fail(*args, **kwargs):
        raise error

    monkeypatch.setattr("sfkeras.training.run.train", fail)
    assert main(["train", "--params", params]) == code
    line = _one_error_line(capsys)
    assert line.startswith(f"sfkeras: {kind}: ")
    assert ("data/" in line) or ("step 3" in line) or ("train.kimg" in line)


def test_unexpected_errors_are_one_line_unless_debug(monkeypatch, params, capsys):
    def fail(*args, **kwargs):
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr("sfkeras.training.run.train", fail)
    assert main(["train", "--params", params]) == 1
    line = _one_error_line(capsys)
    assert "RuntimeError: boom second line" in line and "rerun with --debug" in line
    with pytest.raises(RuntimeError, match="boom"):
        main(["--debug", "train", "--params", params])
