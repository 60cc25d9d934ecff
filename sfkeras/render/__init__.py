"""Render stage: sample grid, truncation sweep, style mixing, interpolation, attention."""

from __future__ import annotations

import pathlib

from PIL import Image

from sfkeras.config import RenderConfig
from sfkeras.images import enlarge, save_png
from sfkeras.models import load_generator
from sfkeras.progress import progress_bar
from sfkeras.render import figures


def save_gif(frames, path: pathlib.Path, frame_ms: int = 80) -> pathlib.Path:
    """Write ``[T, H, W, 3]`` uint8 frames as a looping animated GIF."""
    images = [Image.fromarray(frame) for frame in frames]
    images[0].save(path, save_all=True, append_images=images[1:], duration=frame_ms, loop=0)
    return path


def render_all(config: RenderConfig, network: pathlib.Path,
               out_dir: pathlib.Path) -> dict[str, pathlib.Path]:
    """Render every figure of ``config`` from the generator in ``network`` (.keras).

    Writes ``grid.png``, ``truncation.png``, ``style_mixing.png``, ``interpolation.gif``
    and ``attention.png`` into ``out_dir``, enlarged (nearest neighbour) to at least
    :data:`~sfkeras.images.DISPLAY_WIDTH` pixels wide, the attention maps labelled;
    returns their paths by name.
    """
    generator = load_generator(network)
    out_dir.mkdir(parents=True, exist_ok=True)
    seeds = range(config.grid_seeds)
    sweep_seeds = range(min(config.grid_seeds, 6))
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
        "interpolation": lambda: save_gif(enlarge(
            figures.interpolation(generator, config.interpolation_seeds,
                                  config.interpolation_frames)),
            out_dir / "interpolation.gif"),
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
