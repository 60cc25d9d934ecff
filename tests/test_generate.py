"""``sfkeras generate`` on a tiny generator, the seed syntax, and the videos."""

import numpy as np
import pytest
from PIL import Image

from sfkeras.cli import main
from sfkeras.config import ConfigError, GeneratorConfig
from sfkeras.images import to_uint8, z_from_seeds
from sfkeras.models.generator import Generator
from sfkeras.render.generate import parse_seeds
from sfkeras.render.video import save_video

TINY = GeneratorConfig(resolution=16, num_layers=(1, 1), hidden=(16, 8), depth=8,
                       z_dim=8, w_dim=8)


@pytest.fixture(scope="module")
def network(tmp_path_factory):
    path = tmp_path_factory.mktemp("net") / "G.keras"
    generator = Generator(TINY, seed=0)
    for variable in generator.variables:
        if "noise_strength" in variable.path:  # zero at initialisation: make noise visible
            variable.assign(np.full(variable.shape, 0.5, np.float32))
    generator.save(path)
    return path


def test_parse_seeds():
    assert parse_seeds("0-3,7") == [0, 1, 2, 3, 7]
    assert parse_seeds("120") == [120]
    for bad in ("3-1", "a", "1,,2", "-4"):
        with pytest.raises(ConfigError, match="--seeds"):
            parse_seeds(bad)


def test_generate_by_seeds_writes_the_originals_file_names(network, tmp_path):
    out = tmp_path / "out"
    assert main(["generate", "--network", str(network), "--seeds", "0-2,9", "--trunc", "0.7",
                 "--grid", "--out", str(out)]) == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == ["grid.png", "seed0000.png", "seed0001.png", "seed0002.png", "seed0009.png"]
    assert Image.open(out / "grid.png").size == (32, 32)

    from sfkeras.saved.loader import load_generator

    generator = load_generator(network)
    expected = to_uint8(np.asarray(generator(z_from_seeds([9], TINY.z_dim), truncation_psi=0.7,
                                             noise_mode="const")))[0]
    np.testing.assert_array_equal(np.asarray(Image.open(out / "seed0009.png")), expected)


def test_generate_from_projected_w_and_noise_modes(network, tmp_path):
    from sfkeras.saved.loader import load_generator

    generator = load_generator(network)
    ws = np.asarray(generator.mapping(z_from_seeds([4], TINY.z_dim)))
    np.savez(tmp_path / "projected_w.npz", w=ws[0])
    assert main(["generate", "--network", str(network), "--projected-w",
                 str(tmp_path / "projected_w.npz"), "--out", str(tmp_path / "p")]) == 0
    assert main(["generate", "--network", str(network), "--seeds", "4",
                 "--out", str(tmp_path / "s")]) == 0
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "p" / "proj00.png")),
                                  np.asarray(Image.open(tmp_path / "s" / "seed0004.png")))
    for mode in ("random", "none"):
        assert main(["generate", "--network", str(network), "--seeds", "4", "--noise-mode",
                     mode, "--out", str(tmp_path / mode)]) == 0
    assert np.any(np.asarray(Image.open(tmp_path / "none" / "seed0004.png"))
                  != np.asarray(Image.open(tmp_path / "s" / "seed0004.png")))


def test_mp4_video_and_gif_fallback(tmp_path):
    import imageio_ffmpeg

    frames = np.random.default_rng(0).integers(0, 255, (5, 16, 16, 3), dtype=np.uint8)
    path = save_video(frames, tmp_path / "walk.mp4")
    assert path.suffix == ".mp4"
    reader = imageio_ffmpeg.read_frames(str(path))
    metadata = next(reader)
    assert tuple(metadata["size"]) == (16, 16) and metadata["codec"] == "h264"
    assert len(list(reader)) == 5
    gif = save_video(frames, tmp_path / "walk.gif")
    assert Image.open(gif).n_frames == 5


def test_generate_from_an_exported_saved_model(network, tmp_path):
    from sfkeras.export import export_generator

    saved_model = export_generator(network, tmp_path / "export",
                                   formats=["saved_model"])["saved_model"]
    for source, out in ((saved_model, "sm"), (network, "keras")):
        assert main(["generate", "--network", str(source), "--seeds", "5", "--trunc", "0.5",
                     "--out", str(tmp_path / out)]) == 0
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "sm" / "seed0005.png")),
                                  np.asarray(Image.open(tmp_path / "keras" / "seed0005.png")))
    assert main(["generate", "--network", str(saved_model), "--seeds", "5", "--noise-mode",
                 "random", "--out", str(tmp_path / "r")]) == 2
