"""Render stage: sample grid, truncation sweep, style mixing, interpolation, attention."""

from __future__ import annotations

import functools
import pathlib

from sfkeras.config import RenderConfig
from sfkeras.images import enlarge, save_png
from sfkeras.progress import progress_bar
from sfkeras.render import figures
from sfkeras.render.video import save_gif, save_mp4
from sfkeras.saved.loader import load_generator


def render_all(config: RenderConfig, network: pathlib.Path,
               out_dir: pathlib.Path) -> dict[str, pathlib.Path]:
    """Render every figure of ``config`` from the generator in ``network`` (.keras).

    Writes ``grid.png``, ``truncation.png``, ``style_mixing.png``, ``interpolation.mp4``
    (and the same frames as ``interpolation.gif``) and ``attention.png`` into
    ``out_dir``, enlarged (nearest neighbour) to at least
    :data:`~sfkeras.images.DISPLAY_WIDTH` pixels wide, the attention maps labelled;
    returns their paths by name.
    """
    generator = load_generator(network)
    out_dir.mkdir(parents=True, exist_ok=True)
    seeds = range(config.grid_seeds)
    sweep_seeds = range(min(config.grid_seeds, 6))
    frames = functools.cache(lambda: enlarge(figures.interpolation(
        generator, config.interpolation_seeds, config.interpolation_frames)))
    figures_to_render = {
        "grid": lambda: save_png(enlarge(figures.sample_grid(generator, seeds)),
                                 out_dir / "grid.png"),
        "truncation": lambda: save_png(enlarge(
            figures.truncation_sweep(generator, sweep_seeds, config.truncation_psis)),
            out_dir / "truncation.png"),
        "style_mixing": lambda: save_png(enlarge(
            figures.style_mixing_grid(generator, config.mixing_row_seeds,
                                      config.mixing_col_seeds, config.mixing_from_layer)),
            out_dir / "style_mixing.png"),
        "interpolation": lambda: save_gif(frames(), out_dir / "interpolation.gif"),
        "interpolation_mp4": lambda: save_mp4(frames(), out_dir / "interpolation.mp4"),
        "attention": lambda: save_png(
            figures.labelled_attention(generator, config.attention_seed,
                                       config.attention_layer, config.attention_pixels),
            out_dir / "attention.png"),
    }
    outputs = {}
    with progress_bar(total=len(figures_to_render), desc="render", unit="figure") as bar:
        for name, render in figures_to_render.items():
            bar.set_postfix_str(name)
            outputs[name] = render()
            bar.update()
    for name, path in outputs.items():
        print(f"render: {name:13s} -> {path}")
    return outputs


__all__ = ["render_all", "save_gif"]
