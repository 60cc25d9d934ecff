"""The public entry points and the command line."""

import os
import subprocess
import sys

import pytest

import sfkeras
from sfkeras.cli import main
from sfkeras.config import preset_params_yaml


@pytest.mark.parametrize("name", sfkeras.__all__)
def test_top_level_exports_resolve(name):
    assert getattr(sfkeras, name) is not None


def test_unknown_attribute_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute"):
        sfkeras.NotAThing  # noqa: B018


def test_info_reports_parameter_counts(capsys):
    assert main(["info", "ablation", "one_layer"]) == 0
    out = capsys.readouterr().out
    assert "ablation" in out and "total 1.33M" in out
    assert "one_layer" in out and "hidden [256]" in out


def test_config_prints_the_effective_configuration(tmp_path, capsys):
    params = tmp_path / "params.yaml"
    params.write_text(preset_params_yaml("cifar10", {"train": {"kimg": 7}}))
    assert main(["config", "--params", str(params)]) == 0
    out = capsys.readouterr().out
    assert "kimg: 7.0" in out and "- 1024" in out


def test_configuration_errors_exit_2_with_the_key(tmp_path, capsys):
    params = tmp_path / "params.yaml"
    params.write_text(preset_params_yaml("shapes16").replace("  kimg: 40.0", "  kimgs: 7"))
    assert main(["config", "--params", str(params)]) == 2
    assert "train.kimgs: unknown key; did you mean 'kimg'?" in capsys.readouterr().err


ONEDNN_PROBE = """
import os, sfkeras
import tensorflow as tf
from tensorflow.python.util import _pywrap_util_port
print(os.environ.get("TF_ENABLE_ONEDNN_OPTS"), _pywrap_util_port.IsMklEnabled())
"""


@pytest.mark.parametrize(("setting", "expected"), [(None, "1 True"), ("0", "0 False"),
                                                    ("1", "1 True")])
def test_import_chooses_onednn_kernels_unless_the_user_chose(setting, expected):
    env = {k: v for k, v in os.environ.items() if k != "TF_ENABLE_ONEDNN_OPTS"}
    if setting is not None:
        env["TF_ENABLE_ONEDNN_OPTS"] = setting
    result = subprocess.run([sys.executable, "-c", ONEDNN_PROBE], capture_output=True,
                            text=True, check=True, env={**env, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert result.stdout.split()[-2:] == expected.split()


def test_console_script_help_lists_the_stages():
    result = subprocess.run([sys.executable, "-m", "sfkeras.cli", "--help"], capture_output=True,
                            text=True, check=True)
    for command in ("prepare", "inception", "train", "evaluate", "render", "export", "info",
                    "import-weights", "config"):
        assert command in result.stdout


def test_import_weights_writes_a_keras_file_equal_to_the_original(tmp_path):
    import json

    import keras
    import numpy as np
    from conftest import FIXTURES, load_fixture

    fixture = load_fixture("generator_small32")
    (tmp_path / "config.json").write_text(str(fixture["config"]))
    out = tmp_path / "G.keras"
    assert main(["import-weights", "--config", str(tmp_path / "config.json"), "--state",
                 str(FIXTURES / "generator_small32.npz"), "--prefix", "state/",
                 "--out", str(out)]) == 0
    generator = keras.saving.load_model(out)
    images = np.asarray(generator(fixture["z"], noise_mode="const"))
    np.testing.assert_allclose(images, fixture["img"].transpose(0, 2, 3, 1), atol=1e-4)
    assert json.loads(str(fixture["config"]))["hidden"] == list(generator.config.hidden)
