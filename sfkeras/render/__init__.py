"""Render stage: sample grid, truncation sweep, style mixing, interpolation, attention."""

from __future__ import annotations

import pathlib

from sfkeras.config import RenderConfig
from sfkeras.images import save_png
from sfkeras.loading import load_generator
from sfkeras.render import figures
from sfkeras.render.video import save_gif, save_mp4


def render_all(config: RenderConfig, network: pathlib.Path,
               out_dir: pathlib.Path) -> dict[str, pathlib.Path]:
    """Render every figure of ``config`` from the generator in ``network`` (.keras).

    Writes ``grid.png``, ``truncation.png``, ``style_mixing.png``, ``interpolation.mp4``
    (and the same frames as ``interpolation.gif``) and ``attention.png`` into
    ``out_dir``; returns their paths by name.
    """
    generator = load_generator(network)
    out_dir.mkdir(parents=True, exist_ok=True)
    seeds = range(config.grid_seeds)
    sweep_seeds = range(min(config.grid_seeds, 6))
    frames = figures.interpolation(generator, config.interpolation_seeds,
                                   config.interpolation_frames)
    outputs = {
        "grid": save_png(figures.sample_grid(generator, seeds), out_dir / "grid.png"),
        "truncation": save_png(
            figures.truncation_sweep(generator, sweep_seeds, config.truncation_psis),
            out_dir / "truncation.png"),
        "style_mixing": save_png(
            figures.style_mixing_grid(generator, config.mixing_row_seeds,
                                      config.mixing_col_seeds, config.mixing_from_layer),
            out_dir / "style_mixing.png"),
        "interpolation": save_gif(frames, out_dir / "interpolation.gif"),
        "interpolation_mp4": save_mp4(frames, out_dir / "interpolation.mp4"),
        "attention": save_png(
            figures.attention_overlay(generator, config.attention_seed, config.attention_layer,
                                      config.attention_pixels),
            out_dir / "attention.png"),
    }
    for name, path in outputs.items():
        print(f"render: {name:13s} -> {path}")
    return outputs


__all__ = ["render_all", "save_gif"]
