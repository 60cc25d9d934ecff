"""Bad configuration, unwritable outputs and hostile files: one line, nothing run."""

from __future__ import annotations

import json
import os
import pathlib
import pickle
import re
import zipfile

import keras
import numpy as np
import pytest
import yaml
from test_metrics_weights import _global, _str, _tuple, _write_archive

from sfkeras.cli import main
from sfkeras.config import preset_params_yaml
from sfkeras.convert.common import WeightImportError, load_state
from sfkeras.metrics.generator_fn import load_generator_fn
from sfkeras.metrics.inception_weights import InceptionWeightsError, load_inception_weights
from sfkeras.metrics.torchscript import TorchScriptError, read_torchscript
from sfkeras.saved import loader


def _run_config(tmp_path, text: str, capsys) -> tuple[int, list[str]]:
    params = tmp_path / "params.yaml"
    params.write_text(text)
    code = main(["config", "--params", str(params)])
    return code, capsys.readouterr().err.strip().splitlines()


def _with_train_value(key: str, value: str) -> str:
    """The default params.yaml with ``train.<key>`` set to the YAML text ``value``."""
    head, train = preset_params_yaml("shapes16").split("\ntrain:\n")
    train, count = re.subn(rf"^  {key}: .*$", f"  {key}: {value}", train, count=1, flags=re.M)
    assert count == 1
    return f"{head}\ntrain:\n{train}"


# --- configuration ----------------------------------------------------------------------

def test_yaml_syntax_error_is_one_line_with_file_line_and_column(tmp_path, capsys):
    code, error = _run_config(tmp_path, "preset: shapes16\ntrain:\n  kimg: 1\n   batch: 4\n",
                              capsys)
    assert code == 2
    assert error == [f"sfkeras: configuration error: {tmp_path / 'params.yaml'}:4:9: mapping "
                     "values are not allowed here: not valid YAML; fix the syntax there "
                     "(indentation by spaces, `key: value`, quotes closed)"]


@pytest.mark.parametrize("key, value", [("kimg", ".nan"), ("g_lr", ".inf"),
                                        ("divergence_loss", "-.inf")])
def test_non_finite_numbers_are_refused_naming_the_key(tmp_path, capsys, key, value):
    code, error = _run_config(tmp_path, _with_train_value(key, value), capsys)
    assert code == 2
    assert len(error) == 1
    assert error[0].startswith(f"sfkeras: configuration error: train.{key}: expected a "
                               "finite number, got ")


def test_divergence_guard_can_be_turned_off_with_null(tmp_path, capsys):
    params = tmp_path / "params.yaml"
    params.write_text(_with_train_value("divergence_loss", "null"))
    assert main(["config", "--params", str(params)]) == 0
    assert yaml.safe_load(capsys.readouterr().out)["train"]["divergence_loss"] is None


# --- unwritable output --------------------------------------------------------------------

def _refuse_to_compute(*args, **kwargs):
    raise AssertionError("evaluate computed before checking its output folder")


def test_evaluate_into_an_unwritable_path_fails_before_computing(tmp_path, capsys,
                                                                 monkeypatch):
    monkeypatch.setattr(loader, "load_generator", _refuse_to_compute)
    (tmp_path / "params.yaml").write_text(preset_params_yaml("shapes16"))
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    out = blocker / "eval"  # below a file: cannot be created
    code = main(["evaluate", "--params", str(tmp_path / "params.yaml"), "--out", str(out)])
    assert code == 7
    assert capsys.readouterr().err.strip().splitlines() == [
        f"sfkeras: output error: cannot write to {out}: Not a directory; choose a writable "
        "folder with --out"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into read-only folders")
def test_evaluate_into_a_read_only_folder_fails_before_computing(tmp_path, capsys,
                                                                 monkeypatch):
    monkeypatch.setattr(loader, "load_generator", _refuse_to_compute)
    (tmp_path / "params.yaml").write_text(preset_params_yaml("shapes16"))
    out = tmp_path / "eval"
    out.mkdir(mode=0o555)
    code = main(["evaluate", "--params", str(tmp_path / "params.yaml"), "--out", str(out)])
    assert code == 7
    assert f"cannot write to {out}: Permission denied" in capsys.readouterr().err


# --- files that would run code ----------------------------------------------------------

class _Payload:
    """Pickles into a call that creates ``flag`` when unpickled."""

    def __init__(self, flag: pathlib.Path):
        self.flag = flag

    def __reduce__(self):
        return pathlib.Path.touch, (self.flag,)


@pytest.fixture
def flag(tmp_path) -> pathlib.Path:
    """The file a payload would create; each test asserts it does not exist."""
    return tmp_path / "payload_ran"


def test_npz_with_object_arrays_is_refused(tmp_path, flag, capsys):
    path = tmp_path / "state.npz"
    np.savez(path, weight=np.zeros(3, np.float32), evil=np.array([_Payload(flag)], object))
    with pytest.raises(WeightImportError, match="is not a readable .npz of arrays"):
        load_state(path)
    with pytest.raises(InceptionWeightsError, match="is not a readable .npz of arrays"):
        load_inception_weights(path)
    (tmp_path / "config.json").write_text("{}")
    code = main(["import-weights", "--config", str(tmp_path / "config.json"), "--state",
                 str(path), "--out", str(tmp_path / "G.keras")])
    assert code == 6 and "is not a readable .npz of arrays" in capsys.readouterr().err
    assert not flag.exists()


def test_pickle_posing_as_the_inception_weights_is_refused_by_hash(tmp_path, flag):
    path = tmp_path / "pt_inception-2015-12-05-6726825d.pt"
    path.write_bytes(pickle.dumps(_Payload(flag)))
    with pytest.raises(InceptionWeightsError, match=r"is not the FID Inception file: SHA-1"):
        load_inception_weights(path)
    assert not flag.exists()


@pytest.mark.parametrize("module, name", [("os", "system"), ("posix", "system"),
                                          ("builtins", "eval"), ("subprocess", "call")])
def test_torchscript_archive_with_a_global_outside_the_allow_list_is_refused(
        tmp_path, flag, module, name):
    body = _global(module, name) + _tuple(_str(f"touch {flag}")) + b"R"
    _write_archive(tmp_path / "evil.pt", body, {})
    with pytest.raises(TorchScriptError, match=f"refusing to load global '{module}.{name}'"):
        read_torchscript(tmp_path / "evil.pt")
    assert not flag.exists()


@pytest.fixture
def keras_file(tmp_path, flag):
    """A saved model with a Lambda layer whose function creates ``flag`` when run."""
    name = str(flag)
    inputs = keras.Input((4,))
    outputs = keras.layers.Lambda(lambda x: x + len(open(name, "w").name))(inputs)
    path = tmp_path / "model.keras"
    keras.Model(inputs, outputs).save(path)
    flag.unlink()  # building the model ran it once
    return path


def _rewrite_config(path: pathlib.Path, change) -> pathlib.Path:
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    config = json.loads(members["config.json"])
    change(config)
    members["config.json"] = json.dumps(config).encode()
    changed = path.with_name(f"changed-{path.name}")
    with zipfile.ZipFile(changed, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return changed


def _lambda_layer(config):
    return next(layer for layer in config["config"]["layers"]
                if layer["class_name"] == "Lambda")


def _unknown_class(config):
    config.update(module="evil_module", class_name="Payload", registered_name="evil>Payload")


def _os_system_as_class(config):
    config.update(module="os", class_name="system", registered_name=None,
                  config={"command": "touch payload_ran"})


def test_keras_file_with_a_lambda_layer_is_refused(keras_file, flag):
    with pytest.raises(ValueError, match="Requested the deserialization of a `Lambda` layer"):
        load_generator_fn(keras_file)
    assert not flag.exists()


@pytest.mark.parametrize("change, message", [
    (_unknown_class, "Could not locate class 'Payload'"),
    (_os_system_as_class, "Could not locate class 'system'"),
])
def test_keras_file_naming_a_foreign_class_is_refused(keras_file, flag, change, message,
                                                      monkeypatch):
    monkeypatch.chdir(flag.parent)
    with pytest.raises(TypeError, match=message):
        load_generator_fn(_rewrite_config(keras_file, change))
    assert not flag.exists()
    assert _lambda_layer(json.loads(zipfile.ZipFile(keras_file).read("config.json")))
