"""The attention figure of docs/EXPERIMENTS.md: several generators' attention maps, stacked.

Usage: python benchmarks/attention_variants.py OUT.png LABEL=G.keras [LABEL=G.keras ...]
       [--layer 0] [--seed 0] [--pixels 2,2 4,5]

Each generator gets the render stage's labelled attention figure of encoder layer
``--layer`` (``sfkeras.render.figures.labelled_attention``, with its attention statistics
over 256 latents in the title) under a line naming it; the panels are stacked top to
bottom at a common width.
"""

from __future__ import annotations

import argparse
import pathlib

import numpy as np
from PIL import Image, ImageDraw

from sfkeras.render.figures import labelled_attention
from sfkeras.saved.loader import load_generator

LABEL_HEIGHT = 18


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=pathlib.Path)
    parser.add_argument("networks", nargs="+", help="LABEL=path/to/G_ema.keras")
    parser.add_argument("--layer", type=int, default=0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--pixels", nargs="+", default=["2,2", "4,5"])
    args = parser.parse_args()
    pixels = [tuple(int(v) for v in pixel.split(",")) for pixel in args.pixels]
    panels = []
    for entry in args.networks:
        label, path = entry.split("=", 1)
        figure = labelled_attention(load_generator(path), args.seed, args.layer, pixels)
        canvas = Image.new("RGB", (figure.shape[1], figure.shape[0] + LABEL_HEIGHT), "white")
        canvas.paste(Image.fromarray(figure), (0, LABEL_HEIGHT))
        ImageDraw.Draw(canvas).text((4, 3), label, fill="black")
        panels.append(canvas)
    width = max(panel.width for panel in panels)
    stacked = Image.new("RGB", (width, sum(panel.height for panel in panels)), "white")
    top = 0
    for panel in panels:
        stacked.paste(panel, (0, top))
        top += panel.height
    args.out.parent.mkdir(parents=True, exist_ok=True)
    stacked.save(args.out)
    print(f"wrote {args.out} ({np.asarray(stacked).shape[1]}x{top})")


if __name__ == "__main__":
    main()
