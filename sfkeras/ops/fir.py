"""[1, 3, 3, 1] FIR resampling of NHWC tensors (StyleGAN2's ``upfirdn2d``) in ``keras.ops``.

StyleGAN2 resamples with the separable low-pass filter ``f = [1, 3, 3, 1] / 8`` per
axis. ``upfirdn2d`` zero-stuffs by ``up``, pads (negative padding crops), filters and
keeps every ``down``-th sample. ``upsample_2d`` and ``downsample_2d`` choose the padding
that maps ``H -> 2H`` and ``H -> H/2`` exactly as the original; with this filter the 2x
up-sampling equals bilinear interpolation with zero padding at the borders.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from keras import ops

#: StyleGAN2's default resampling filter (before normalisation).
RESAMPLE_FILTER = (1.0, 3.0, 3.0, 1.0)
FILTER_TAPS = len(RESAMPLE_FILTER)


def upfirdn2d(
    x,
    *,
    up: int = 1,
    down: int = 1,
    padding: Sequence[int] = (0, 0, 0, 0),
    gain: float = 1.0,
):
    """Up-sample, FIR-filter and down-sample a batch of NHWC images.

    Args:
        x: ``[N, H, W, C]`` tensor with static ``H``, ``W``, ``C``.
        up: integer up-sampling factor (zero insertion).
        down: integer down-sampling factor (keeps every ``down``-th sample).
        padding: ``(x0, x1, y0, y1)`` added after up-sampling; negative values crop.
        gain: overall gain of the 2-D filter (``up**2`` keeps the mean when up-sampling).

    Returns:
        ``[N, (H*up + y0 + y1 - 3) // down, (W*up + x0 + x1 - 3) // down, C]`` (ceil
        division when the length is not a multiple of ``down``).
    """
    _, height, width, channels = x.shape
    px0, px1, py0, py1 = padding
    if up > 1:
        x = _zero_stuff(x, up)
    x = ops.pad(x, ((0, 0), (max(py0, 0), max(py1, 0)), (max(px0, 0), max(px1, 0)), (0, 0)))
    rows, cols = x.shape[1], x.shape[2]
    x = x[:, max(-py0, 0) : rows - max(-py1, 0), max(-px0, 0) : cols - max(-px1, 0), :]

    taps = np.asarray(RESAMPLE_FILTER, dtype="float32")
    taps = taps / taps.sum() * np.sqrt(gain)  # separable: each axis carries sqrt(gain)
    if down > 1:
        # One 2-D pass with equal strides: TensorFlow's own depthwise kernels (CPU without
        # oneDNN, GPU) refuse unequal strides such as (1, down), so the separable passes
        # below would only run where oneDNN rewrites the op.
        kernel = np.tile(np.outer(taps, taps)[:, :, None, None], (1, 1, channels, 1))
        return ops.depthwise_conv(x, ops.cast(kernel, x.dtype), strides=down)
    kernel = np.tile(taps[:, None, None], (1, channels, 1))  # [taps, C, 1]
    x = ops.depthwise_conv(x, ops.cast(kernel[None], x.dtype))
    return ops.depthwise_conv(x, ops.cast(kernel[:, None], x.dtype))


def _zero_stuff(x, up: int):
    """Insert ``up - 1`` zeros after every sample of both axes: ``[N, H, W, C] ->
    [N, H*up, W*up, C]``.

    Written with tensors of rank 4 at most (concatenation with zeros along a unit axis,
    then a reshape that interleaves), so that runtimes without 6-D padding (LiteRT's
    built-in ops) run it as they are.
    """
    _, height, width, channels = x.shape

    def interleave(x, rows, row_size):  # -> [N, rows, up, row_size]: zeros after each row
        x = ops.reshape(x, (-1, rows, 1, row_size))
        return ops.concatenate([x] + [ops.zeros_like(x)] * (up - 1), axis=2)

    x = interleave(x, height * width, channels)  # zeros after every pixel of a row
    x = interleave(x, height, width * up * channels)  # zero rows after every row
    return ops.reshape(x, (-1, height * up, width * up, channels))


def upsample_2d(x, *, gain: float = 1.0):
    """2x up-sampling ``[N, H, W, C] -> [N, 2H, 2W, C]`` (StyleGAN2 ``upsample2d``)."""
    pad0 = (FILTER_TAPS + 1) // 2
    pad1 = (FILTER_TAPS - 2) // 2
    return upfirdn2d(x, up=2, padding=(pad0, pad1, pad0, pad1), gain=gain * 4)


def downsample_2d(x, *, gain: float = 1.0):
    """2x down-sampling ``[N, H, W, C] -> [N, H/2, W/2, C]`` (StyleGAN2 ``downsample2d``)."""
    pad0 = (FILTER_TAPS - 1) // 2
    pad1 = (FILTER_TAPS - 2) // 2
    return upfirdn2d(x, down=2, padding=(pad0, pad1, pad0, pad1), gain=gain)
