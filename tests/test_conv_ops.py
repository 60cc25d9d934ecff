"""``conv2d_resample`` against a direct NumPy transcription of the original's semantics."""

import numpy as np
import pytest

from sfkeras.ops.conv import conv2d_resample

pytestmark = pytest.mark.platform  # kernels against a NumPy reference (docs/PLATFORMS.md)

FIR = np.outer([1.0, 3.0, 3.0, 1.0], [1.0, 3.0, 3.0, 1.0]) / 64.0


def correlate_valid(x, kernel):
    """``[N, H, W, I]`` (*) ``[kh, kw, I, O]`` cross-correlation, no padding."""
    kh, kw = kernel.shape[:2]
    out_h, out_w = x.shape[1] - kh + 1, x.shape[2] - kw + 1
    out = np.zeros((x.shape[0], out_h, out_w, kernel.shape[3]))
    for i in range(kh):
        for j in range(kw):
            out += np.einsum("nhwi,io->nhwo", x[:, i : i + out_h, j : j + out_w], kernel[i, j])
    return out


def fir_valid(x, gain=1.0):
    """Depthwise 4x4 [1,3,3,1] filter (symmetric: correlation = convolution), no padding."""
    out_h, out_w = x.shape[1] - 3, x.shape[2] - 3
    out = np.zeros((x.shape[0], out_h, out_w, x.shape[3]))
    for i in range(4):
        for j in range(4):
            out += x[:, i : i + out_h, j : j + out_w] * FIR[i, j] * gain
    return out


def reference_conv2d_resample(x, kernel, up, down, padding, flip_kernel):
    """The original's generic path: zero-stuff, pad, FIR (if up), conv, FIR + decimate (if down)."""
    x = x.astype(np.float64)
    kernel = kernel.astype(np.float64)
    if flip_kernel:
        kernel = kernel[::-1, ::-1]
    pad0, pad1 = padding, padding
    if up > 1:
        pad0 += (4 + up - 1) // 2
        pad1 += (4 - up) // 2
    if down > 1:
        pad0 += (4 - down + 1) // 2
        pad1 += (4 - down) // 2
    n, h, w, c = x.shape
    stuffed = np.zeros((n, h * up, w * up, c))
    stuffed[:, ::up, ::up] = x
    y = np.pad(stuffed, ((0, 0), (pad0, pad1), (pad0, pad1), (0, 0)))
    if up > 1:
        y = fir_valid(y, gain=up**2)
    y = correlate_valid(y, kernel)
    if down > 1:
        y = fir_valid(y)[:, ::down, ::down]
    return y


@pytest.mark.parametrize("kernel_size", [1, 3])
@pytest.mark.parametrize(
    "up,down,flip_kernel", [(1, 1, False), (1, 2, False), (2, 1, False), (2, 1, True)]
)
def test_conv2d_resample_matches_reference(rng, kernel_size, up, down, flip_kernel):
    x = rng.standard_normal((2, 6, 6, 3)).astype("float32")
    kernel = rng.standard_normal((kernel_size, kernel_size, 3, 4)).astype("float32")
    padding = kernel_size // 2
    got = np.asarray(conv2d_resample(x, kernel, up=up, down=down, padding=padding,
                                     flip_kernel=flip_kernel))
    expected = reference_conv2d_resample(x, kernel, up, down, padding, flip_kernel)
    assert got.shape == (2, 6 * up // down, 6 * up // down, 4)
    np.testing.assert_allclose(got, expected, atol=1e-5)


@pytest.mark.parametrize("up,down,padding", [(1, 1, 2), (1, 1, 0), (1, 2, 0), (2, 1, 0)])
def test_conv2d_resample_other_paddings(rng, up, down, padding):
    x = rng.standard_normal((1, 8, 8, 2)).astype("float32")
    kernel = rng.standard_normal((3, 3, 2, 3)).astype("float32")
    got = np.asarray(conv2d_resample(x, kernel, up=up, down=down, padding=padding))
    expected = reference_conv2d_resample(x, kernel, up, down, padding, False)
    np.testing.assert_allclose(got, expected, atol=1e-5)


def test_conv2d_resample_rejects_up_and_down_together(rng):
    x = np.zeros((1, 4, 4, 1), "float32")
    with pytest.raises(ValueError, match="up- and down-sampling"):
        conv2d_resample(x, np.zeros((3, 3, 1, 1), "float32"), up=2, down=2)
