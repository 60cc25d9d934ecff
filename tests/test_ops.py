import numpy as np
import pytest

from sfkeras.ops import bias_act, downsample_2d, upfirdn2d, upsample_2d

pytestmark = pytest.mark.platform  # kernels against a NumPy reference (docs/PLATFORMS.md)


def reference_upfirdn2d(x, up, down, pad, gain):
    """Direct NumPy transcription of StyleGAN2's reference upfirdn2d on NHWC."""
    n, h, w, c = x.shape
    px0, px1, py0, py1 = pad
    y = np.zeros((n, h * up, w * up, c), x.dtype)
    y[:, ::up, ::up] = x
    y = np.pad(y, ((0, 0), (max(py0, 0), max(py1, 0)), (max(px0, 0), max(px1, 0)), (0, 0)))
    y = y[:, max(-py0, 0) : y.shape[1] - max(-py1, 0), max(-px0, 0) : y.shape[2] - max(-px1, 0)]
    f = np.outer([1, 3, 3, 1], [1, 3, 3, 1]).astype(np.float64)
    f = f / f.sum() * gain
    out_h, out_w = y.shape[1] - 3, y.shape[2] - 3
    out = np.zeros((n, out_h, out_w, c))
    for i in range(out_h):
        for j in range(out_w):
            out[:, i, j] = np.einsum("nhwc,hw->nc", y[:, i : i + 4, j : j + 4], f[::-1, ::-1])
    return out[:, ::down, ::down]


@pytest.mark.parametrize(
    "up,down,pad,gain",
    [(2, 1, (2, 1, 2, 1), 4.0), (1, 2, (1, 1, 1, 1), 1.0), (2, 1, (1, 1, 0, 2), 2.0),
     (1, 1, (-1, 2, 1, -1), 1.0)],
)
def test_upfirdn2d_matches_reference(rng, up, down, pad, gain):
    x = rng.standard_normal((2, 6, 6, 3)).astype("float32")
    got = np.asarray(upfirdn2d(x, up=up, down=down, padding=pad, gain=gain))
    np.testing.assert_allclose(got, reference_upfirdn2d(x, up, down, pad, gain), atol=1e-5)


def test_upsample_is_bilinear_with_zero_border(rng):
    x = rng.standard_normal((1, 4, 4, 2)).astype("float32")
    y = np.asarray(upsample_2d(x))
    assert y.shape == (1, 8, 8, 2)
    # Interior samples are bilinear interpolation at half-pixel offsets.
    expected = 0.75 * (0.75 * x[0, 1, 1] + 0.25 * x[0, 1, 2]) + 0.25 * (
        0.75 * x[0, 2, 1] + 0.25 * x[0, 2, 2]
    )
    np.testing.assert_allclose(y[0, 3, 3], expected, rtol=1e-5)
    # A constant image keeps its value away from the border.
    np.testing.assert_allclose(np.asarray(upsample_2d(np.ones((1, 4, 4, 1))))[0, 1:-1, 1:-1], 1.0,
                               rtol=1e-6)


def test_downsample_shape_and_mean(rng):
    x = np.ones((2, 8, 8, 3), "float32")
    y = np.asarray(downsample_2d(x))
    assert y.shape == (2, 4, 4, 3)
    np.testing.assert_allclose(y[:, 1:-1, 1:-1], 1.0, rtol=1e-6)


def test_bias_act_lrelu_gain_and_clamp():
    x = np.array([[-2.0, 0.5, 400.0]], "float32")
    y = np.asarray(bias_act(x, np.array([1.0, 0.0, 0.0], "float32"), activation="lrelu",
                            clamp=256.0))
    np.testing.assert_allclose(y, [[-0.2 * np.sqrt(2), 0.5 * np.sqrt(2), 256.0]], rtol=1e-6)
    with pytest.raises(ValueError, match="unknown activation"):
        bias_act(x, activation="relu6")
