import numpy as np
from PIL import Image

from sfkeras.images import enlarge, image_grid, save_png, to_uint8, z_from_seeds


def test_z_from_seeds_follows_the_original_convention():
    z = z_from_seeds([3, 7], 16)
    assert z.shape == (2, 16) and z.dtype == np.float32
    np.testing.assert_allclose(z[1], np.random.RandomState(7).randn(16).astype(np.float32))


def test_to_uint8_clips_and_truncates_like_the_original():
    x = np.array([-2.0, -1.0, 0.0, 0.999, 1.0, 3.0], np.float32)
    np.testing.assert_array_equal(to_uint8(x), [0, 0, 128, 255, 255, 255])
    assert to_uint8(np.float32(-0.5)) == 64  # 64.25 truncated


def test_image_grid_layout_and_padding():
    images = np.stack([np.full((2, 3, 3), v, np.uint8) for v in (10, 20, 30)])
    grid = image_grid(images, columns=2, padding=1)
    assert grid.shape == (5, 7, 3)
    assert grid[0, 0, 0] == 10 and grid[0, 4, 0] == 20 and grid[3, 0, 0] == 30
    assert grid[3, 4, 0] == 0  # the empty cell is black
    assert grid[2, 0, 0] == 0  # padding row


def test_save_png_round_trips(tmp_path):
    image = np.random.default_rng(0).integers(0, 256, (4, 5, 3), dtype=np.uint8)
    path = save_png(image, tmp_path / "sub" / "x.png")
    np.testing.assert_array_equal(np.asarray(Image.open(path)), image)


def test_enlarge_repeats_pixels_by_the_smallest_factor_reaching_the_width():
    image = np.arange(2 * 3 * 1, dtype=np.uint8).reshape(2, 3, 1)
    big = enlarge(image, min_width=7)  # factor 3
    assert big.shape == (6, 9, 1)
    np.testing.assert_array_equal(big[::3, ::3], image)
    np.testing.assert_array_equal(big[2::3, 2::3], image)
    assert enlarge(image, min_width=3).shape == image.shape
    frames = np.zeros((4, 16, 16, 3), np.uint8)
    assert enlarge(frames).shape == (4, 512, 512, 3)
