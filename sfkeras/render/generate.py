"""``sfkeras generate``: images by seed or from projected ``w``, as StyleGAN2-ADA's
``generate.py`` writes them (``seed0000.png``; ``proj00.png`` for projected ``w``).
"""

from __future__ import annotations

import pathlib
import re
from collections.abc import Sequence

import numpy as np

from sfkeras.config.base import ConfigError
from sfkeras.images import image_grid, save_png
from sfkeras.render.figures import mapped_ws, synthesize

NOISE_MODES = ("const", "random", "none")


def parse_seeds(text: str) -> list[int]:
    """``"0-3,7"`` -> ``[0, 1, 2, 3, 7]`` (ranges inclusive, as the original's ``--seeds``).

    Raises:
        ConfigError: for anything but comma-separated non-negative ints and ranges.
    """
    seeds = []
    for part in text.split(","):
        match = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", part)
        if match is None or (match[2] is not None and int(match[2]) < int(match[1])):
            raise ConfigError("--seeds", f"cannot read {part!r} of {text!r}: give "
                              "comma-separated seeds and ranges such as 0-99,120")
        first = int(match[1])
        seeds.extend(range(first, int(match[2] or first) + 1))
    return seeds


def load_projected_ws(path: str | pathlib.Path) -> np.ndarray:
    """``ws [N, num_ws, w_dim]`` from the ``w`` array of a projector's ``.npz``.

    Raises:
        MissingFileError: no such file.
        ConfigError: the file has no ``w`` array.
    """
    from sfkeras.saved.loader import check_exists

    path = check_exists(path, "projected w file")
    with np.load(path, allow_pickle=False) as data:
        if "w" not in data.files:
            raise ConfigError("--projected-w", f"{path} has no array 'w' (it has "
                              f"{data.files}): pass the projected_w.npz of sfkeras project")
        ws = np.asarray(data["w"], np.float32)
    return ws[None] if ws.ndim == 2 else ws


def generate_images(generator, seeds: Sequence[int] = (), truncation_psi: float = 1.0,
                    noise_mode: str = "const", ws: np.ndarray | None = None,
                    class_index: int | None = None) -> np.ndarray:
    """uint8 images ``[N, H, W, C]`` of the seeds' latents (or of ``ws``).

    Args:
        generator: a :class:`~sfkeras.models.Generator`, or an
            :class:`~sfkeras.saved.loader.ExportedGenerator` (constant noise only).
        seeds: latent seeds (see :func:`sfkeras.images.z_from_seeds`).
        truncation_psi: ``w_avg + psi (w - w_avg)``.
        noise_mode: ``const``, ``random`` or ``none``.
        ws: ``[N, num_ws, w_dim]`` to synthesise instead of the seeds.
        class_index: the class of every seed's image; required by a conditional
            generator (as the original's ``--class``), refused by an unconditional one.

    Raises:
        ConfigError: (``--class``) missing for a conditional generator, given with
            ``ws`` or for an unconditional generator, or out of range.
    """
    from sfkeras.saved.loader import ExportedGenerator

    if ws is not None and class_index is not None:
        raise ConfigError("--class", "applies to --seeds: a projected w holds its class")
    if ws is None:
        if generator.c_dim and class_index is None:
            raise ConfigError("--class", f"the network is conditional ({generator.c_dim} "
                              f"classes): choose the class of the images, 0-"
                              f"{generator.c_dim - 1}")
        ws = mapped_ws(generator, seeds, truncation_psi, class_index)
    if isinstance(generator, ExportedGenerator):
        if noise_mode != "const":
            raise ConfigError("--noise-mode", f"{noise_mode!r}: a SavedModel synthesises "
                              "with constant noise only; use const, or pass the .keras file")
        return generator.images(ws)
    return synthesize(generator, ws, noise_mode=noise_mode)


def write_images(images: np.ndarray, names: Sequence[str], out_dir: str | pathlib.Path,
                 grid: bool = False) -> list[pathlib.Path]:
    """One PNG per image (``out_dir/<name>.png``), and ``grid.png`` of all when ``grid``."""
    out_dir = pathlib.Path(out_dir)
    paths = [save_png(image, out_dir / f"{name}.png") for image, name in zip(
        images, names, strict=True)]
    if grid:
        columns = int(np.ceil(np.sqrt(len(images))))
        paths.append(save_png(image_grid(images, columns), out_dir / "grid.png"))
    return paths


def seed_names(seeds: Sequence[int]) -> list[str]:
    """``seed0000``-style names of StyleGAN2-ADA's ``generate.py``."""
    return [f"seed{seed:04d}" for seed in seeds]
