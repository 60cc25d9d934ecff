"""The command line fails politely: one line per error naming the kind, a distinct exit
code per kind (documented in ``--help``), tracebacks only with ``--debug``."""

import argparse
import importlib
import pkgutil

import pytest

import sfkeras
from sfkeras.cli import build_parser, main
from sfkeras.config import ConfigError, preset_params_yaml
from sfkeras.data import DataError
from sfkeras.errors import EXIT_CODES, SfkerasError
from sfkeras.training.checkpoint import CheckpointMismatchError
from sfkeras.training.loop import NonFiniteLossError


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
    assert {"ConfigError", "DataError", "CheckpointMismatchError", "NonFiniteLossError",
            "WeightImportError", "SnapshotError", "MissingFileError"} <= set(kinds)
    for name, cls in kinds.items():
        assert EXIT_CODES[cls.exit_code][0] == cls.kind, name
    with pytest.raises(SystemExit):
        main(["--help"])
    help_text = capsys.readouterr().out
    for code, (kind, _) in EXIT_CODES.items():
        assert f"{code:3d}  {kind}" in help_text


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
    (NonFiniteLossError("loss_Gmain is nan at step 3"), 5, "training diverged"),
    (ConfigError("train.kimg", "must be positive"), 2, "configuration error"),
    (FileNotFoundError(2, "No such file or directory", "data/prepared/x/dataset.json"), 10,
     "missing file"),
])
def test_errors_raised_while_training(monkeypatch, params, capsys, error, code, kind):
    def fail(*args, **kwargs):
        raise error

    monkeypatch.setattr("sfkeras.training.loop.train", fail)
    assert main(["train", "--params", params]) == code
    line = _one_error_line(capsys)
    assert line.startswith(f"sfkeras: {kind}: ")
    assert ("data/" in line) or ("step 3" in line) or ("train.kimg" in line)


def test_unexpected_errors_are_one_line_unless_debug(monkeypatch, params, capsys):
    def fail(*args, **kwargs):
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr("sfkeras.training.loop.train", fail)
    assert main(["train", "--params", params]) == 1
    line = _one_error_line(capsys)
    assert "RuntimeError: boom second line" in line and "rerun with --debug" in line
    with pytest.raises(RuntimeError, match="boom"):
        main(["--debug", "train", "--params", params])
