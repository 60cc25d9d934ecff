"""Render figures on a tiny generator: files, sizes and style-mixing semantics."""

import numpy as np
import pytest
from PIL import Image

from sfkeras.config import GeneratorConfig, RenderConfig
from sfkeras.images import enlarge
from sfkeras.models.generator import Generator
from sfkeras.render import figures, render_all

TINY = GeneratorConfig(resolution=16, num_layers=(1, 1), hidden=(32, 16), depth=16,
                       z_dim=16, w_dim=16)


@pytest.fixture(scope="module")
def generator():
    return Generator(TINY, seed=0)


def test_style_mixing_takes_coarse_styles_from_rows_and_fine_from_columns(generator):
    rows, cols = [1, 2], [3, 4]
    parents_rows = figures.synthesize(generator, figures.mapped_ws(generator, rows))
    parents_cols = figures.synthesize(generator, figures.mapped_ws(generator, cols))
    np.testing.assert_array_equal(figures.style_mixing(generator, rows, cols, 0)[0],
                                  parents_cols)
    np.testing.assert_array_equal(figures.style_mixing(generator, rows, cols, generator.num_ws)
                                  [:, 0], parents_rows)
    mixed = figures.style_mixing(generator, rows, cols, 1)
    for i in range(2):
        for j in range(2):
            assert np.any(mixed[i, j] != parents_rows[i])
            assert np.any(mixed[i, j] != parents_cols[j])
    with pytest.raises(ValueError, match="mixing_from_layer"):
        figures.style_mixing(generator, rows, cols, generator.num_ws + 1)


def test_truncation_zero_gives_the_average_image(generator):
    sweep = figures.truncation_sweep(generator, [5, 6], [1.0, 0.0])
    assert sweep.shape == (32, 32, 3)
    np.testing.assert_array_equal(sweep[:16, 16:], sweep[16:, 16:])  # psi=0: both seeds equal
    assert np.any(sweep[:16, :16] != sweep[16:, :16])


def test_attention_overlay_shape_and_bad_pixel(generator):
    figure = figures.attention_overlay(generator, 0, layer_index=0, pixels=[(0, 0), (7, 7)])
    heads = TINY.num_heads(TINY.hidden[0])
    assert figure.shape == (2 * 16, (heads + 1) * 16, 3)
    with pytest.raises(ValueError, match="outside"):
        figures.attention_overlay(generator, 0, layer_index=0, pixels=[(8, 0)])


def test_attention_overlay_refuses_linformer_layers():
    config = GeneratorConfig(resolution=16, num_layers=(1, 1), hidden=(32, 16), depth=16,
                             z_dim=16, w_dim=16, linformer=True, linformer_min_resolution=16,
                             linformer_dim=8)
    with pytest.raises(ValueError, match="Linformer"):
        figures.attention_overlay(Generator(config, seed=0), 0, layer_index=1, pixels=[(0, 0)])


def test_render_all_writes_every_figure(generator, tmp_path):
    network = tmp_path / "G.keras"
    generator.save(network)
    config = RenderConfig(grid_seeds=4, truncation_psis=(1.0, 0.5), mixing_row_seeds=(1, 2),
                          mixing_col_seeds=(3,), mixing_from_layer=1,
                          interpolation_seeds=(0, 1), interpolation_frames=3,
                          attention_pixels=((1, 1),))
    paths = render_all(config, network, tmp_path / "render")
    sizes = {name: Image.open(path).size for name, path in paths.items()
             if path.suffix != ".mp4"}
    # Enlarged by the smallest integer factor that reaches 512 pixels: 32 -> x16.
    assert sizes["grid"] == (512, 512)
    assert sizes["truncation"] == (512, 1024)
    assert sizes["style_mixing"] == (512, 768)
    heads = TINY.num_heads(TINY.hidden[0])
    factor = -(-512 // ((heads + 1) * 16))
    assert sizes["attention"] == (factor * (heads + 1) * 16,
                                  figures.TITLE_HEIGHT + factor * 16)
    gif = Image.open(paths["interpolation"])
    assert gif.n_frames == 6 and gif.size == (512, 512)
    assert paths["interpolation_mp4"].name == "interpolation.mp4"
    assert paths["interpolation_mp4"].stat().st_size > 0
    grid = np.asarray(Image.open(paths["grid"]))
    np.testing.assert_array_equal(grid[::16, ::16], figures.sample_grid(generator, range(4)))


def test_attention_labels_name_the_layer_the_heads_and_the_queries(generator):
    labelled = figures.labelled_attention(generator, 0, layer_index=0, pixels=[(1, 1), (2, 3)])
    raw = figures.attention_overlay(generator, 0, layer_index=0, pixels=[(1, 1), (2, 3)])
    factor = labelled.shape[1] // raw.shape[1]
    assert labelled.shape[1] >= 512 and labelled.shape[1] == factor * raw.shape[1]
    assert labelled.shape[0] == figures.TITLE_HEIGHT + factor * raw.shape[0]
    title = labelled[: figures.TITLE_HEIGHT]
    assert (title < 128).any() and (title == 255).mean() > 0.5  # dark text on white
    # Below the row labels (top left of each row), the panels are the raw figure enlarged.
    np.testing.assert_array_equal(labelled[-factor:], enlarge(raw, 512)[-factor:])


def test_render_all_explains_a_missing_network(tmp_path):
    with pytest.raises(FileNotFoundError, match="train stage"):
        render_all(RenderConfig(), tmp_path / "missing.keras", tmp_path)


def test_render_in_a_fresh_process_needs_no_prior_import(generator, tmp_path):
    """The stage loads the .keras file without the test having imported the classes."""
    import subprocess
    import sys

    generator.save(tmp_path / "G.keras")
    script = ("import pathlib; from sfkeras.config import RenderConfig; "
              "from sfkeras.render import render_all; "
              f"render_all(RenderConfig(grid_seeds=1, attention_pixels=((0, 0),)), "
              f"pathlib.Path({str(tmp_path / 'G.keras')!r}), pathlib.Path({str(tmp_path)!r}))")
    subprocess.run([sys.executable, "-c", script], check=True, capture_output=True)
    assert (tmp_path / "grid.png").is_file()
