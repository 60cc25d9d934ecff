"""Videos of generator frames: MP4 through ``imageio`` and its ffmpeg plugin (the
``imageio-ffmpeg`` wheel ships the binary), or an animated GIF (Pillow) as the fallback.
"""

from __future__ import annotations

import pathlib

import numpy as np
from PIL import Image


def save_gif(frames: np.ndarray, path: str | pathlib.Path, fps: float = 12.5) -> pathlib.Path:
    """Write ``[T, H, W, 3]`` uint8 frames as a looping animated GIF; returns the path."""
    path = pathlib.Path(path)
    images = [Image.fromarray(frame) for frame in np.asarray(frames)]
    images[0].save(path, save_all=True, append_images=images[1:],
                   duration=round(1000 / fps), loop=0)
    return path


def save_mp4(frames: np.ndarray, path: str | pathlib.Path, fps: float = 25.0) -> pathlib.Path:
    """Write ``[T, H, W, 3]`` uint8 frames as an H.264 MP4 (yuv420p, high quality).

    Odd frame sizes are padded by one black row/column (H.264's 4:2:0 needs even sizes).

    Raises:
        ImportError: ``imageio`` or ``imageio-ffmpeg`` is not installed.
    """
    import imageio.v2 as imageio

    path = pathlib.Path(path)
    frames = np.asarray(frames)
    pad = ((0, 0), (0, frames.shape[1] % 2), (0, frames.shape[2] % 2), (0, 0))
    frames = np.pad(frames, pad)
    with imageio.get_writer(path, format="FFMPEG", mode="I", fps=fps, codec="libx264",
                            quality=8, pixelformat="yuv420p", macro_block_size=1) as writer:
        for frame in frames:
            writer.append_data(frame)
    return path


def save_video(frames: np.ndarray, path: str | pathlib.Path, fps: float = 25.0) -> pathlib.Path:
    """MP4 when ``path`` ends in ``.mp4`` and ffmpeg is available, otherwise a GIF beside it
    (``path`` with suffix ``.gif``); returns the path written."""
    path = pathlib.Path(path)
    if path.suffix == ".mp4":
        try:
            return save_mp4(frames, path, fps)
        except ImportError as error:
            print(f"video: {error}; writing a GIF instead (pip install imageio imageio-ffmpeg)")
    return save_gif(frames, path.with_suffix(".gif"), fps)
