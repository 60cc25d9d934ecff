"""Style modulation helpers shared by the Styleformer encoder layer and ToRGB."""

from __future__ import annotations

from keras import ops

from sfkeras.ops import at_least_float32

#: Added under the square root of the demodulation (as in the original).
DEMODULATION_EPSILON = 1e-8


def demodulation(styles, kernel):
    """Demodulation coefficients of a style-modulated dense kernel.

    For the per-sample modulated weight ``W'[n, i, o] = kernel[i, o] * styles[n, i]``
    returns ``rsqrt(sum_i W'[n, i, o]^2 + 1e-8)``, computed as
    ``rsqrt(styles^2 @ kernel^2 + 1e-8)`` so that ``W'`` ``[N, in, out]`` is never built.

    Args:
        styles: ``[N, in]`` per-sample input scales.
        kernel: ``[in, out]`` unmodulated kernel.

    Returns:
        ``[N, out]`` coefficients in ``styles``' dtype; multiplying ``(x * styles) @ kernel``
        (or, as the original does for Q/K/V, ``x @ kernel``) by them normalises each
        output channel. Computed in (at least) float32, as the original does under mixed
        precision (the epsilon underflows in float16).
    """
    styles32, kernel32 = at_least_float32(styles), at_least_float32(kernel)
    coefficients = ops.rsqrt(ops.matmul(ops.square(styles32), ops.square(kernel32))
                             + DEMODULATION_EPSILON)
    return ops.cast(coefficients, styles.dtype)
