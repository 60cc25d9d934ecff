"""2-D convolution with [1, 3, 3, 1] FIR up- or down-sampling (StyleGAN2's ``conv2d_resample``).

The result equals the original's reference formulation on the zero-stuffed, padded
image: FIR-filter (gain ``up**2``) when up-sampling, convolve ("valid"), FIR-filter
and decimate when down-sampling. Since the filter and the convolution commute, it is
computed the cheap way, exactly as the original's fast paths:

* ``down > 1``: FIR on the padded input, then a strided convolution (1x1 kernels:
  FIR-decimate first, then the 1x1 convolution at the low resolution).
* ``up > 1``: transposed (strided) convolution, then FIR (1x1 kernels: convolve at
  the low resolution, then FIR-up-sample).
* otherwise: a plain convolution with ``padding`` zeros on each side.
"""

from __future__ import annotations

from keras import ops

from sfkeras.ops.fir import FILTER_TAPS, upfirdn2d


def conv2d_resample(x, kernel, *, up: int = 1, down: int = 1, padding: int = 0,
                    flip_kernel: bool = False):
    """Convolve NHWC images with optional 2-D FIR up- or down-sampling.

    Args:
        x: ``[N, H, W, C_in]`` with static ``H``, ``W``, ``C_in``.
        kernel: ``[kh, kw, C_in, C_out]`` (already multiplied by any weight gain).
        up: integer up-sampling factor (``>= 1``).
        down: integer down-sampling factor (``>= 1``); not together with ``up > 1``.
        padding: zeros added on every side, measured on the up-sampled image (the
            original's convention; its layers use ``kernel_size // 2``).
        flip_kernel: ``False`` = cross-correlation (``torch.nn.functional.conv2d``,
            ``tf.nn.conv2d``), ``True`` = true convolution. The original's layers pass
            ``flip_weight = (up == 1)``, so ports of its up-sampling layers
            (``Conv2dLayer``, ``SynthesisLayer`` with ``up=2``) must pass
            ``flip_kernel=True`` to reproduce imported weights.

    Returns:
        ``[N, H', W', C_out]`` with ``H' = (H*up + 2*padding - kh + 1)`` for ``down == 1``
        and ``H' = (H + 2*padding - kh) // down + 1`` for ``down > 1`` (same for ``W``).
        With ``padding = kh // 2`` and odd ``kh``: ``H' = H*up`` or ``H / down``.
    """
    kernel_h, kernel_w = kernel.shape[0], kernel.shape[1]
    if up < 1 or down < 1:
        raise ValueError(f"up and down must be >= 1, got up={up}, down={down}")
    if up > 1 and down > 1:
        raise ValueError("conv2d_resample: up- and down-sampling in one call is not supported")
    if padding < 0:
        raise ValueError(f"padding must be >= 0, got {padding}")
    if flip_kernel:
        kernel = ops.flip(kernel, axis=(0, 1))
    pointwise = kernel_h == 1 and kernel_w == 1

    if down > 1:
        pad = (padding + (FILTER_TAPS - down + 1) // 2, padding + (FILTER_TAPS - down) // 2)
        if pointwise:
            x = upfirdn2d(x, down=down, padding=pad + pad)
            return ops.conv(x, kernel)
        x = upfirdn2d(x, padding=pad + pad)
        return ops.conv(x, kernel, strides=down)

    if up > 1:
        pad = (padding + (FILTER_TAPS + up - 1) // 2, padding + (FILTER_TAPS - up) // 2)
        if pointwise:
            return upfirdn2d(ops.conv(x, kernel), up=up, padding=pad + pad, gain=up**2)
        if kernel_h < up or kernel_w < up:
            raise ValueError(f"conv2d_resample: kernels smaller than up={up} are not supported")
        # A transposed convolution is the full *true* convolution of the zero-stuffed
        # image (less up-1 trailing zeros): give it the cross-correlation kernel flipped,
        # as [kh, kw, C_out, C_in], then crop/pad for the FIR as the original does.
        x = ops.conv_transpose(x, ops.flip(ops.transpose(kernel, (0, 1, 3, 2)), axis=(0, 1)),
                               strides=up)
        crop_x = (pad[0] - (kernel_w - 1), pad[1] - (kernel_w - up))
        crop_y = (pad[0] - (kernel_h - 1), pad[1] - (kernel_h - up))
        return upfirdn2d(x, padding=crop_x + crop_y, gain=up**2)

    if 2 * padding == kernel_h - 1 and 2 * padding == kernel_w - 1:
        return ops.conv(x, kernel, padding="same")
    if padding:
        x = ops.pad(x, ((0, 0), (padding, padding), (padding, padding), (0, 0)))
    return ops.conv(x, kernel)
