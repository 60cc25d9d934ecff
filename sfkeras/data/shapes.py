"""Procedural images of coloured geometric shapes: the built-in, offline data set.

Every image is a smooth two-colour linear gradient (muted colours) with one or two solid,
saturated shapes on top: a circle, an axis-aligned or rotated square, or a triangle, of
moderate size at a random position. Shapes are drawn with Pillow at ``SUPERSAMPLE`` times
the output resolution and box-filtered down, which anti-aliases their edges (the
gradient, being smooth, is computed at the output resolution directly).

Image ``index`` of split ``split`` is drawn from its own random stream, seeded by
``(seed, split, index)``: an image never depends on the others, so any prefix of a split
(``max_images``) holds the same images as the full split, and the same seed always gives
the same pixels.

Two labelled versions (:func:`labelled_shape_image`) give class-conditional sets:

* ``kind``: an image's class is the kind of its largest shape by area. It comes from the
  draws that place the shapes, with nothing drawn for it: the pixels are those of the
  unlabelled images.
* ``colour``: an image's class, red, green or blue (equally likely), is drawn first, and
  every shape's hue lies within 1/6 of that class's (0, 1/3 or 2/3); the rest is drawn
  as for the other images. A class a small network can learn within minutes on a CPU.
"""

from __future__ import annotations

import colorsys
import math

import numpy as np
import PIL.Image
import PIL.ImageDraw

SUPERSAMPLE = 4
SHAPE_KINDS = ("circle", "square", "triangle")
COLOUR_CLASSES = ("red", "green", "blue")
"""Classes of the ``colour`` labels: class ``k``'s shapes have hues within 1/6 of ``k / 3``."""
LABEL_NAMES = {"kind": SHAPE_KINDS, "colour": COLOUR_CLASSES}
"""Class names of each labelling (``data.shapes.labels``)."""
UNIT_AREAS = (math.pi, 2.0, 3.0 * math.sqrt(3.0) / 4.0)
"""Area of each kind (same order as ``SHAPE_KINDS``) at radius 1; a polygon's radius is
its circumradius."""
SPLIT_IDS = {"train": 0, "test": 1}
"""Each split's word in the random seed, so that splits never share images."""


def shape_image(resolution: int, seed: int, split: str, index: int) -> np.ndarray:
    """Draw image ``index`` of ``split`` (unlabelled: the ``kind`` image, without its label).

    Returns:
        ``uint8 [resolution, resolution, 3]`` RGB image.
    """
    return labelled_shape_image(resolution, seed, split, index, "kind")[0]


def labelled_shape_image(resolution: int, seed: int, split: str, index: int,
                         labels: str) -> tuple[np.ndarray, int]:
    """Draw image ``index`` of ``split`` of the set labelled by ``labels``, with its class.

    Args:
        resolution: output side length in pixels (>= 8).
        seed: data set seed.
        split: ``"train"`` or ``"test"``.
        index: position of the image in its split.
        labels: ``"kind"`` or ``"colour"`` (module docstring).

    Returns:
        ``(image, label)``: the ``uint8 [resolution, resolution, 3]`` RGB image, and its
        class, indexing ``LABEL_NAMES[labels]``: for ``kind`` the kind of its shape of
        largest area (the whole shape's area, also where the other shape covers it), for
        ``colour`` the hue band of its shapes.
    """
    if resolution < 8:
        raise ValueError(f"shape images need a resolution of at least 8, got {resolution}")
    if labels not in LABEL_NAMES:
        raise ValueError(f"labels must be one of {list(LABEL_NAMES)}, got {labels!r}")
    rng = np.random.default_rng([seed, SPLIT_IDS[split], index])
    hue_class = int(rng.integers(len(COLOUR_CLASSES))) if labels == "colour" else None
    size = resolution * SUPERSAMPLE
    background = PIL.Image.fromarray(_gradient(rng, resolution))
    canvas = background.resize((size, size), PIL.Image.Resampling.NEAREST)
    draw = PIL.ImageDraw.Draw(canvas)
    shapes = [_draw_shape(draw, rng, size, hue_class) for _ in range(rng.integers(1, 3))]
    _, largest_kind = max(shapes)
    label = largest_kind if hue_class is None else hue_class
    return np.asarray(canvas.reduce(SUPERSAMPLE)), label


def _draw_shape(draw: PIL.ImageDraw.ImageDraw, rng: np.random.Generator, size: int,
                hue_class: int | None) -> tuple[float, int]:
    """Draw one random shape on the ``size`` x ``size`` canvas; return ``(area, kind)``.

    ``kind`` indexes ``SHAPE_KINDS``; ``area`` is in canvas pixels. ``hue_class`` (index
    into ``COLOUR_CLASSES``; ``None``: any hue) bounds the shape's hue.
    """
    kind = int(rng.integers(len(SHAPE_KINDS)))
    radius = size * rng.uniform(0.14, 0.28)
    center = rng.uniform(radius, size - radius, size=2)
    colour = _saturated_colour(rng, hue_class)
    if SHAPE_KINDS[kind] == "circle":
        box = (*(center - radius), *(center + radius))
        draw.ellipse(box, fill=colour)
    else:
        corners = 4 if SHAPE_KINDS[kind] == "square" else 3
        draw.polygon(_regular_polygon(center, radius, corners, rng), fill=colour)
    return UNIT_AREAS[kind] * radius**2, kind


def _gradient(rng: np.random.Generator, size: int) -> np.ndarray:
    """``uint8 [size, size, 3]`` linear blend of two muted colours along a random direction."""
    start, end = (_muted_colour(rng) for _ in range(2))
    angle = rng.uniform(0.0, 2.0 * math.pi)
    coords = (np.arange(size, dtype=np.float32) + 0.5) / size - 0.5
    ramp = coords[None, :] * math.cos(angle) + coords[:, None] * math.sin(angle)
    ramp = np.clip(ramp / math.sqrt(0.5) * 0.5 + 0.5, 0.0, 1.0)[..., None]
    blend = start * (1.0 - ramp) + end * ramp
    return np.round(blend).astype(np.uint8)


def _muted_colour(rng: np.random.Generator) -> np.ndarray:
    """Low-saturation background colour, ``float32 [3]`` in 0..255."""
    rgb = colorsys.hsv_to_rgb(rng.uniform(), rng.uniform(0.05, 0.35), rng.uniform(0.25, 0.9))
    return np.asarray(rgb, dtype=np.float32) * 255.0


def _saturated_colour(rng: np.random.Generator, hue_class: int | None
                      ) -> tuple[int, int, int]:
    """Vivid shape colour that stands out from the muted backgrounds, of any hue or, with
    ``hue_class``, of a hue within 1/6 of ``hue_class / len(COLOUR_CLASSES)``."""
    if hue_class is None:
        hue = rng.uniform()
    else:
        hue = (hue_class / len(COLOUR_CLASSES) + rng.uniform(-1 / 6, 1 / 6)) % 1.0
    rgb = colorsys.hsv_to_rgb(hue, rng.uniform(0.65, 1.0), rng.uniform(0.75, 1.0))
    return tuple(int(round(channel * 255.0)) for channel in rgb)


def _regular_polygon(
    center: np.ndarray, radius: float, corners: int, rng: np.random.Generator
) -> list[tuple[float, float]]:
    """Corners of a regular polygon inscribed in the circle of ``radius``, randomly rotated."""
    phase = rng.uniform(0.0, 2.0 * math.pi / corners)
    angles = phase + np.arange(corners) * (2.0 * math.pi / corners)
    return [(center[0] + radius * math.cos(a), center[1] + radius * math.sin(a)) for a in angles]
