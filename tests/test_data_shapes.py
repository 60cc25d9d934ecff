"""The built-in shapes data set: drawing, determinism and the TFDS builder."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow_datasets as tfds

import sfkeras.data  # noqa: F401  (registers sfkeras_shapes)
from sfkeras.data.shapes import shape_image
from sfkeras.data.shapes_tfds import REGISTERED_RESOLUTIONS, ShapesBuilderConfig


def _vivid_pixels(image: np.ndarray) -> int:
    """Pixels whose channel spread only the saturated shape colours reach (>= 124)."""
    spread = image.max(axis=-1).astype(int) - image.min(axis=-1)
    return int((spread > 110).sum())


def test_same_seed_split_and_index_give_the_same_image():
    np.testing.assert_array_equal(shape_image(32, 7, "train", 3), shape_image(32, 7, "train", 3))


@pytest.mark.parametrize("other", [(32, 8, "train", 3), (32, 7, "test", 3), (32, 7, "train", 4)])
def test_seed_split_and_index_each_change_the_image(other):
    assert not np.array_equal(shape_image(32, 7, "train", 3), shape_image(*other))


@pytest.mark.parametrize("resolution", REGISTERED_RESOLUTIONS)
def test_every_resolution_draws_visible_shapes_on_a_background(resolution):
    for image in (shape_image(resolution, 0, "train", index) for index in range(4)):
        assert image.shape == (resolution, resolution, 3) and image.dtype == np.uint8
        assert image.std() > 10  # not blank
        assert _vivid_pixels(image) >= (0.14 * resolution) ** 2  # at least one whole shape
        assert _vivid_pixels(image) < resolution**2 * 0.9  # and a background around it


def test_shape_edges_are_anti_aliased():
    image = shape_image(32, 0, "train", 0).astype(int)
    colours = {tuple(pixel) for pixel in image.reshape(-1, 3)}
    assert len(colours) > 100  # gradient and blended edge pixels, not a few flat colours


def test_images_differ_across_a_split():
    images = [shape_image(16, 0, "train", index) for index in range(50)]
    assert len({image.tobytes() for image in images}) == 50


def test_too_small_resolution_is_rejected():
    with pytest.raises(ValueError, match="at least 8"):
        shape_image(4, 0, "train", 0)


def test_tfds_builder_serves_the_generated_images(tmp_path):
    config = ShapesBuilderConfig.create(resolution=16, num_train=6, num_test=3, seed=5)
    assert config.name == "16_train6_test3_seed5"
    splits = tfds.load("sfkeras_shapes", split=["train", "test"], data_dir=str(tmp_path),
                       builder_kwargs={"config": config})
    for split, dataset, count in zip(("train", "test"), splits, (6, 3), strict=True):
        served = sorted(example["image"].tobytes() for example in tfds.as_numpy(dataset))
        expected = sorted(shape_image(16, 5, split, index).tobytes() for index in range(count))
        assert served == expected


def test_registered_configs_are_named_by_resolution():
    names = [config.name for config in sfkeras.data.shapes_tfds.SfkerasShapes.BUILDER_CONFIGS]
    assert names == [str(resolution) for resolution in REGISTERED_RESOLUTIONS]
    assert "sfkeras_shapes" in tfds.list_builders()
