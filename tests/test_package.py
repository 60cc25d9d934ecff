"""The public entry points and the command line."""

import os
import pathlib
import subprocess
import sys

import numpy as np
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


def _run_python(code: str, *args: str, drop: tuple[str, ...] = (),
                **settings: str) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter, without the variables ``drop`` names."""
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env = {**env, "TF_CPP_MIN_LOG_LEVEL": "3", **settings}
    result = subprocess.run([sys.executable, "-c", code, *args], capture_output=True,
                            text=True, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def test_import_changes_no_environment_variable_and_loads_neither_keras_nor_tensorflow():
    _run_python("import os, sys; e = dict(os.environ); import sfkeras, sfkeras.cli; "
                "assert dict(os.environ) == e; "
                "assert not {'keras', 'tensorflow'} & set(sys.modules), sorted(sys.modules)",
                drop=("TF_ENABLE_ONEDNN_OPTS", "KERAS_BACKEND"))


@pytest.fixture(scope="module")
def saved_networks(tmp_path_factory) -> tuple[str, str]:
    """A tiny generator's and discriminator's ``.keras`` files."""
    from sfkeras.config import DiscriminatorConfig, GeneratorConfig
    from sfkeras.models import Discriminator, Generator

    folder = tmp_path_factory.mktemp("networks")
    generator = Generator(GeneratorConfig(resolution=16, num_layers=(1, 2), hidden=(16, 8),
                                          depth=4, z_dim=8, w_dim=8), seed=0)
    discriminator = Discriminator(16, DiscriminatorConfig(channel_base=64, channel_max=8,
                                                          mbstd_group_size=2))
    discriminator(generator(np.zeros((2, 8), "float32"), noise_mode="const"))  # builds it
    generator.save(folder / "G.keras")
    discriminator.save(folder / "D.keras")
    return str(folder / "G.keras"), str(folder / "D.keras")


LOAD_PROBE = """
import sys
{imports}
generator, discriminator = (keras.saving.load_model(path) for path in sys.argv[1:])
images = generator(keras.random.normal((2, generator.z_dim)), noise_mode="const")
print(type(generator).__name__, type(discriminator).__name__,
      tuple(discriminator(images).shape))
"""


@pytest.mark.parametrize("imports", ["import sfkeras, keras", "import keras, sfkeras",
                                     "import sfkeras.config, keras"])
def test_keras_loads_sfkeras_files_after_import_sfkeras(saved_networks, imports):
    result = _run_python(LOAD_PROBE.format(imports=imports), *saved_networks)
    assert result.stdout.split()[-4:] == ["Generator", "Discriminator", "(2,", "1)"]


def test_import_sfkeras_and_keras_registers_every_keras_class():
    package = pathlib.Path(sfkeras.__file__).parent
    registering = {
        ".".join(path.relative_to(package.parent).with_suffix("").parts)
        for path in package.rglob("*.py") if "register_keras_serializable" in path.read_text()}
    assert {"sfkeras.models.generator", "sfkeras.training.optim"} <= registering
    result = _run_python("import sys, sfkeras, keras; print(*sorted(sys.modules))")
    assert registering <= set(result.stdout.split())


KERNELS_PROBE = """
import os
from sfkeras.cli import main
main(["info", "ablation"])  # the command imports TensorFlow
from tensorflow.python.util import _pywrap_util_port
print(os.environ.get("TF_ENABLE_ONEDNN_OPTS"), _pywrap_util_port.IsMklEnabled())
"""


@pytest.mark.parametrize(("setting", "expected"), [(None, "1 True"), ("0", "0 False"),
                                                    ("1", "1 True")])
def test_command_line_chooses_onednn_kernels_unless_the_user_chose(setting, expected):
    settings = {} if setting is None else {"TF_ENABLE_ONEDNN_OPTS": setting}
    result = _run_python(KERNELS_PROBE, drop=("TF_ENABLE_ONEDNN_OPTS",), **settings)
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
