"""The Generator model: real-size presets, saving, training mode, config errors, import."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from sfkeras.config import PRESETS, ConfigError, GeneratorConfig, config_from_params
from sfkeras.convert.common import WeightImportError, transpose
from sfkeras.convert.generator import (
    generator_config_from_official,
    generator_table,
    import_official_generator,
)
from sfkeras.models.generator import Generator, parameter_counts

TINY = GeneratorConfig(resolution=16, num_layers=(1, 2), hidden=(16, 8), depth=4, z_dim=8,
                       w_dim=8)
#: A small original-style configuration with Linformer at 32x32 (projection k = 256).
OFFICIAL = {"z_dim": 8, "w_dim": 8, "mapping_layers": 2, "conv_clamp": 256, "resolution": 32,
            "num_layers": [1, 1, 2], "hidden": [16, 8, 8], "depth": 4, "minimum_head": 1,
            "linformer": True}

STYLEFORMER_PRESETS = sorted(
    name for name in PRESETS
    if config_from_params({"preset": name}).generator.styleformer_max_resolution is None)


@pytest.mark.parametrize("preset", STYLEFORMER_PRESETS)
def test_preset_generates_an_image_at_real_size(preset):
    config = config_from_params({"preset": preset}).generator
    generator = Generator(config, seed=0)
    z = np.random.default_rng(0).normal(size=(1, config.z_dim)).astype("float32")
    c = np.eye(config.c_dim, dtype="float32")[:1] if config.c_dim else None
    image = np.asarray(generator(z, c))
    assert image.shape == (1, config.resolution, config.resolution, 3)
    assert image.dtype == np.float32 and np.isfinite(image).all()
    counts = parameter_counts(config)
    print(f"{preset}: {counts}")
    mapping = config.mapping_layers * (config.w_dim + 1) * config.w_dim  # z_dim == w_dim
    if config.c_dim:  # the label embedding, and fc0's inputs for it
        mapping += (config.c_dim + 1) * config.w_dim + config.w_dim * config.w_dim
    assert counts["mapping"] == mapping
    assert counts["total"] == counts["mapping"] + counts["synthesis"]
    assert counts["total"] == sum(int(np.prod(v.shape)) for v in generator.trainable_weights)


def test_ablation_parameter_count():
    """The paper's ablation model; encoder layer: affine, Q/K/V, Wo, Wu, bias, noise strength."""
    config = config_from_params({"preset": "ablation"}).generator
    w = config.w_dim

    def encoder(c, out):
        return (w + 1) * 2 * c + 3 * c * c + 2 * c * out + out + 1

    def torgb(c):
        return (w + 1) * c + 3 * c + 3

    synthesis = (64 * 256 + 64 * 256 + encoder(256, 64) + torgb(64)  # const, pos, b8_0
                 + 256 * 64 + encoder(64, 64) + encoder(64, 16) + torgb(16)
                 + 1024 * 16 + encoder(16, 16) + encoder(16, 16) + torgb(16))
    assert parameter_counts(config)["synthesis"] == synthesis


def test_keras_file_round_trip_in_fresh_process(tmp_path):
    generator = Generator(TINY, seed=5)
    z = np.random.default_rng(1).normal(size=(2, TINY.z_dim)).astype("float32")
    generator.mapping.w_avg.assign(np.linspace(-1, 1, TINY.w_dim).astype("float32"))
    path = tmp_path / "generator.keras"
    generator.save(path)
    expected = {
        "const": np.asarray(generator(z, noise_mode="const")),
        "none": np.asarray(generator(z, truncation_psi=0.5, noise_mode="none")),
        "random": np.asarray(generator(z, noise_mode="random")),
    }
    np.savez(tmp_path / "io.npz", z=z, **expected)
    script = textwrap.dedent(f"""
        import keras, numpy as np
        import sfkeras.models.generator
        data = np.load({str(tmp_path / "io.npz")!r})
        generator = keras.saving.load_model({str(path)!r})
        assert type(generator) is sfkeras.models.generator.Generator
        z = data["z"]
        outputs = {{
            "const": generator(z, noise_mode="const"),
            "none": generator(z, truncation_psi=0.5, noise_mode="none"),
            "random": generator(z, noise_mode="random"),
        }}
        for key, value in outputs.items():
            np.testing.assert_array_equal(np.asarray(value), data[key], err_msg=key)
        print("identical")
    """)
    env = {**os.environ, "KERAS_BACKEND": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "identical" in result.stdout


def test_training_mode_tracks_w_avg_and_truncation_cutoff():
    generator = Generator(TINY, seed=0)
    z = np.random.default_rng(2).normal(size=(4, TINY.z_dim)).astype("float32")
    generator(z, training=False)
    np.testing.assert_array_equal(generator.mapping.w_avg, 0.0)
    generator(z, training=True)
    w_mean = np.asarray(generator.mapping(z))[:, 0].mean(0)
    np.testing.assert_allclose(generator.mapping.w_avg, (1 - TINY.w_avg_beta) * w_mean,
                               rtol=1e-5, atol=1e-8)
    # Truncating only ws past every read index changes nothing.
    full = np.asarray(generator(z, noise_mode="const"))
    cut = generator(z, truncation_psi=0.0, truncation_cutoff=0, noise_mode="const")
    np.testing.assert_allclose(cut, full)
    assert not np.allclose(generator(z, truncation_psi=0.0, noise_mode="const"), full)


@pytest.mark.parametrize(("values", "field"), [
    ({"hidden": [16, 8], "num_layers": [1]}, "generator.hidden"),
    ({"hidden": [28, 8, 8], "depth": 8}, "generator.hidden"),  # 3 heads
    ({"resolution": 48}, "generator.resolution"),
    ({"num_layers": [1, 0, 1]}, "generator.num_layers"),
    ({"conv_clamp": -1.0}, "generator.conv_clamp"),
])
def test_invalid_config_names_the_field(values, field):
    with pytest.raises(ConfigError) as error:
        GeneratorConfig.from_dict(values, "generator")
    assert error.value.key == field


def test_official_config():
    config = generator_config_from_official(OFFICIAL)
    assert config.block_resolutions == (8, 16, 32) and config.linformer_dim == 256
    assert config.num_ws == 4 + 3
    with pytest.raises(ConfigError, match="img_resolution"):
        generator_config_from_official({**OFFICIAL, "img_resolution": 32})


def official_state(generator: Generator) -> dict[str, np.ndarray]:
    """The generator's weights as an original state dict (the import table inverted)."""
    state = {name: np.asarray(target.variable) for name, target in
             generator_table(generator).items()}
    state = {name: value.T if generator_table(generator)[name].transform is transpose else value
             for name, value in state.items()}
    return {**state, "synthesis.b8_0.resample_filter": np.ones((4, 4), "float32")}


@pytest.fixture(scope="module")
def source():
    generator = Generator(generator_config_from_official(OFFICIAL), seed=0)
    for variable in generator.weights:  # non-default values everywhere
        if "seed" not in variable.path:
            values = np.random.default_rng(len(variable.path)).normal(size=variable.shape)
            variable.assign(values.astype("float32"))
    return generator, official_state(generator)


def test_import_round_trip(source):
    generator, state = source
    assert "synthesis.b32_0.proj_weight" in state and "synthesis.b32_0.enc.proj_weight" in state
    imported = import_official_generator(OFFICIAL, state)
    z = np.random.default_rng(3).normal(size=(2, OFFICIAL["z_dim"])).astype("float32")
    np.testing.assert_array_equal(imported(z, truncation_psi=0.7, noise_mode="const"),
                                  generator(z, truncation_psi=0.7, noise_mode="const"))


def test_import_lists_missing_unexpected_and_misshaped(source):
    _, state = source
    broken = dict(state)
    del broken["synthesis.b16_0.enc.q_weight"]
    broken["synthesis.b16_0.enc.extra"] = np.zeros(3, "float32")
    broken["mapping.fc1.weight"] = np.zeros((8, 9), "float32")
    with pytest.raises(WeightImportError) as error:
        import_official_generator(OFFICIAL, broken)
    message = str(error.value)
    assert "missing (1): synthesis.b16_0.enc.q_weight" in message
    assert "unexpected (1): synthesis.b16_0.enc.extra" in message
    assert "mis-shaped (1): mapping.fc1.weight: got (8, 9)" in message


def test_import_rejects_differing_copies_of_a_projection(source):
    _, state = source
    broken = {**state, "synthesis.b32_1.proj_weight": state["synthesis.b32_1.proj_weight"] + 1}
    with pytest.raises(WeightImportError, match="b32_1.enc.proj_weight and"):
        import_official_generator(OFFICIAL, broken)
