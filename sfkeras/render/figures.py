"""The figures of the render stage, each a function of a generator and seeds.

All figures use constant noise (``noise_mode="const"``, the original ``generate.py``
default) so that a seed always gives the same picture. A conditional generator's sample
grid has one row per class; its other figures give the ``i``-th seed of a list class
``i mod c_dim`` (:func:`seed_labels`). Images are uint8 NHWC at the
model's resolution (programs and tests use them as they are); :func:`sfkeras.render.render_all`
enlarges them for people, and :func:`labelled_attention` labels the attention maps.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from keras import ops
from PIL import Image, ImageDraw

from sfkeras.config.base import ConfigError
from sfkeras.images import DISPLAY_WIDTH, enlarge, image_grid, to_uint8, z_from_seeds
from sfkeras.labels import cycled_labels, one_hot
from sfkeras.models.attention_statistics import ATTENTION_LATENTS, attention_statistics

NOISE_MODE = "const"

#: Pixels above the enlarged attention panels for the title and column headers.
TITLE_HEIGHT = 46


#: Fewest seeds per class row of a conditional generator's sample grid.
MIN_CLASS_ROW = 8


def seed_labels(generator, count: int, class_index: int | None = None) -> np.ndarray | None:
    """One-hot labels ``[count, c_dim]`` of ``count`` seeds of a conditional generator:
    all of class ``class_index`` or, with ``None``, classes in turn (seed ``i`` of the
    list has class ``i mod c_dim``); ``None`` for an unconditional generator.

    Raises:
        ConfigError: (``--class``) a class for an unconditional generator, or a class out
            of range.
    """
    c_dim = generator.c_dim
    if not c_dim:
        if class_index is not None:
            raise ConfigError("--class", f"is {class_index}, but the network is "
                              "unconditional (it takes no class): leave --class out")
        return None
    if class_index is None:
        return cycled_labels(count, c_dim)
    if not 0 <= class_index < c_dim:
        raise ConfigError("--class", f"{class_index} is out of range: the network has "
                          f"{c_dim} classes (0-{c_dim - 1})")
    return one_hot(np.full(count, class_index), c_dim)


def mapped_ws(generator, seeds: Sequence[int], truncation_psi: float = 1.0,
              class_index: int | None = None) -> np.ndarray:
    """``ws [len(seeds), num_ws, w_dim]`` of the seeds' latents (see ``z_from_seeds``)
    and, for a conditional generator, their labels (:func:`seed_labels`)."""
    z = z_from_seeds(seeds, generator.z_dim)
    return ops.convert_to_numpy(generator.mapping(
        z, seed_labels(generator, len(z), class_index), truncation_psi=truncation_psi))


def synthesize(generator, ws: np.ndarray, batch_size: int = 16,
               noise_mode: str = NOISE_MODE) -> np.ndarray:
    """uint8 images ``[N, H, W, C]`` of ``ws [N, num_ws, w_dim]``, in batches."""
    batches = [
        to_uint8(ops.convert_to_numpy(generator.synthesis(ws[i : i + batch_size],
                                                          noise_mode=noise_mode)))
        for i in range(0, len(ws), batch_size)
    ]
    return np.concatenate(batches)


def sample_grid(generator, seeds: Sequence[int], truncation_psi: float = 1.0) -> np.ndarray:
    """A near-square grid of the seeds' images ``[rows*H, cols*W, C]``; for a
    conditional generator one row per class, each with the same first seeds
    (``ceil(len(seeds) / c_dim)``, at least :data:`MIN_CLASS_ROW` where there are as
    many), so a column shows one latent in every class."""
    if not generator.c_dim:
        images = synthesize(generator, mapped_ws(generator, seeds, truncation_psi))
        return image_grid(images, columns=int(np.ceil(np.sqrt(len(seeds)))))
    row = list(seeds)[:max(-(-len(seeds) // generator.c_dim), MIN_CLASS_ROW)]
    ws = np.concatenate([mapped_ws(generator, row, truncation_psi, class_index)
                         for class_index in range(generator.c_dim)])
    return image_grid(synthesize(generator, ws), columns=len(row))


def truncation_sweep(generator, seeds: Sequence[int], psis: Sequence[float]) -> np.ndarray:
    """One row per seed, one column per truncation psi (``w_avg + psi (w - w_avg)``)."""
    ws = np.stack([mapped_ws(generator, seeds, psi) for psi in psis], axis=1)
    images = synthesize(generator, ws.reshape(-1, *ws.shape[2:]))
    return image_grid(images, columns=len(psis))


def style_mixing(generator, row_seeds: Sequence[int], col_seeds: Sequence[int],
                 from_layer: int) -> np.ndarray:
    """Mixed images ``[rows, cols, H, W, C]``: row seed's ws before ``from_layer``, the
    column seed's from ``from_layer`` on (coarse styles from rows, fine from columns).

    ``from_layer = 0`` reproduces the column images and ``from_layer = num_ws`` the
    row images.
    """
    if not 0 <= from_layer <= generator.num_ws:
        raise ValueError(f"render.mixing_from_layer must be in [0, {generator.num_ws}] "
                         f"(the generator has {generator.num_ws} ws), got {from_layer}")
    row_ws, col_ws = mapped_ws(generator, row_seeds), mapped_ws(generator, col_seeds)
    mixed = np.repeat(row_ws[:, None], len(col_seeds), axis=1)
    mixed[:, :, from_layer:] = col_ws[None, :, from_layer:]
    images = synthesize(generator, mixed.reshape(-1, *row_ws.shape[1:]))
    return images.reshape(len(row_seeds), len(col_seeds), *images.shape[1:])


def style_mixing_grid(generator, row_seeds: Sequence[int], col_seeds: Sequence[int],
                      from_layer: int) -> np.ndarray:
    """The classic figure: column parents on top, row parents on the left, mixes inside."""
    mixed = style_mixing(generator, row_seeds, col_seeds, from_layer)
    rows = synthesize(generator, mapped_ws(generator, row_seeds))
    cols = synthesize(generator, mapped_ws(generator, col_seeds))
    blank = np.zeros_like(rows[:1])
    cells = [blank, cols] + [np.concatenate([rows[i : i + 1], mixed[i]]) for i in range(len(rows))]
    return image_grid(np.concatenate(cells), columns=len(col_seeds) + 1)


def interpolation(generator, seeds: Sequence[int], frames_per_step: int) -> np.ndarray:
    """A looping walk through W: linear between the seeds' ws, back to the first.

    Returns ``[len(seeds) * frames_per_step, H, W, C]`` uint8 frames.
    """
    ws = mapped_ws(generator, seeds)
    targets = np.roll(ws, -1, axis=0)
    steps = np.arange(frames_per_step, dtype=np.float32) / frames_per_step
    path = ws[:, None] + steps[None, :, None, None] * (targets - ws)[:, None]
    return synthesize(generator, path.reshape(-1, *ws.shape[1:]))


def attention_overlay(generator, seed: int, layer_index: int,
                      pixels: Sequence[Sequence[int]]) -> np.ndarray:
    """Attention maps of one encoder layer, overlaid on the image (paper, Appendix B).

    One row per query pixel ``(row, col)`` (in the layer's own resolution): the image
    with the query marked, then one panel per head showing where that query attends.

    Returns:
        ``[len(pixels) * H, (heads + 1) * W, 3]`` uint8, at the model's resolution.
    """
    image, attention = _attention(generator, seed, layer_index)
    return _overlay_panels(image, attention, layer_index, pixels)


def labelled_attention(generator, seed: int, layer_index: int,
                       pixels: Sequence[Sequence[int]],
                       min_width: int = DISPLAY_WIDTH,
                       num_latents: int = ATTENTION_LATENTS) -> np.ndarray:
    """:func:`attention_overlay` for people: enlarged (nearest neighbour) to at least
    ``min_width`` pixels, under a title naming the layer and its attention statistics
    over ``num_latents`` latents (:mod:`sfkeras.models.attention_statistics`), a header
    naming each column (the query image, ``head 0``, ...) and each row's query pixel.

    Returns:
        ``[TITLE_HEIGHT + k * len(pixels) * H, k * (heads + 1) * W, 3]`` uint8 for the
        enlargement factor ``k``.
    """
    image, attention = _attention(generator, seed, layer_index)
    heads, queries, _ = attention.shape
    resolution = int(round(np.sqrt(queries)))
    panels = enlarge(_overlay_panels(image, attention, layer_index, pixels), min_width)
    cell_h, cell_w = panels.shape[0] // len(pixels), panels.shape[1] // (heads + 1)
    canvas = Image.new("RGB", (panels.shape[1], panels.shape[0] + TITLE_HEIGHT), "white")
    canvas.paste(Image.fromarray(panels), (0, TITLE_HEIGHT))
    draw = ImageDraw.Draw(canvas)
    draw.text((4, 2), f"encoder layer {layer_index}: {resolution}x{resolution} tokens, "
              f"{heads} heads; where each query pixel (red) attends", fill="black")
    statistics = list(attention_statistics(generator, num_latents).values())[layer_index]
    draw.text((4, 16), f"over {num_latents} latents: entropy {statistics['entropy']:.3f} "
              f"(1 = uniform), largest weight {statistics['max']:.3f} per row", fill="black")
    for column, title in enumerate(["query"] + [f"head {h}" for h in range(heads)]):
        draw.text((column * cell_w + 4, TITLE_HEIGHT - 14), title, fill="black")
    for row, (query_row, query_col) in enumerate(pixels):
        draw.text((4, TITLE_HEIGHT + row * cell_h + 4), f"query ({query_row}, {query_col})",
                  fill="white", stroke_width=1, stroke_fill="black")
    return np.asarray(canvas)


def _attention(generator, seed: int, layer_index: int) -> tuple[np.ndarray, np.ndarray]:
    """The image of ``seed`` ``[H, W, 3]`` and the attention of encoder layer
    ``layer_index`` ``[heads, queries, keys]`` in its synthesis."""
    ws = mapped_ws(generator, [seed])
    image = synthesize(generator, ws)[0]
    attention = ops.convert_to_numpy(
        generator.synthesis.attention_maps(ws, layer_index, noise_mode=NOISE_MODE))[0]
    return image, attention


def _overlay_panels(image: np.ndarray, attention: np.ndarray, layer_index: int,
                    pixels: Sequence[Sequence[int]]) -> np.ndarray:
    heads, queries, keys = attention.shape
    resolution = int(round(np.sqrt(queries)))
    if keys != queries:
        raise ValueError(f"render.attention_layer {layer_index} uses Linformer: it attends to "
                         f"{keys} projected tokens, not pixels; choose a layer below "
                         "generator.linformer_min_resolution")
    scale = image.shape[0] // resolution
    panels = []
    for row, col in pixels:
        if not (0 <= row < resolution and 0 <= col < resolution):
            raise ValueError(f"render.attention_pixels: ({row}, {col}) is outside the "
                             f"{resolution}x{resolution} map of layer {layer_index}")
        marked = image.copy()
        marked[row * scale : (row + 1) * scale, col * scale : (col + 1) * scale] = (255, 0, 0)
        maps = attention[:, row * resolution + col].reshape(heads, resolution, resolution)
        panels.append(marked)
        panels.extend(_heat_overlay(image, m, scale) for m in maps)
    return image_grid(np.stack(panels), columns=heads + 1)


def _heat_overlay(image: np.ndarray, weights: np.ndarray, scale: int) -> np.ndarray:
    """Blend a red-yellow heat map of ``weights [r, r]`` (scaled to its max) over ``image``."""
    heat = np.kron(weights / max(float(weights.max()), 1e-12), np.ones((scale, scale)))[..., None]
    colour = np.concatenate([np.ones_like(heat), heat, np.zeros_like(heat)], axis=-1) * 255
    grey = image.mean(axis=-1, keepdims=True) * 0.5
    return np.clip(grey * (1 - heat) + colour * heat, 0, 255).astype(np.uint8)
