"""Class labels of the built-in shapes and the per-split label counts of ``dataset.json``."""

from __future__ import annotations

import colorsys
import hashlib
import json
import math
import pathlib

import numpy as np
import PIL.ImageDraw
import pytest

from sfkeras.config import ConfigError
from sfkeras.config.data import DataConfig, ShapesSourceConfig
from sfkeras.data import DataError, iterate_uint8, load, load_manifest, prepare_dataset
from sfkeras.data.manifest import MANIFEST_NAME
from sfkeras.data.shapes import COLOUR_CLASSES, SHAPE_KINDS, labelled_shape_image, shape_image

RESOLUTION = 16
PINNED_SHA256 = (
    "721d6f0847cd69daa888e0fc56ab1c44054d062842dfe51bbb0820424b39e24b",
    "8d4c6e704d6836426e6dd280fa0cf3b6d0174a7b0140306edad7b7d9918a84d5",
    "dd0df463e7e90009a0707b01ec378521cfa2faf1784a562f4e44c9a2b61b6100",
    "905abd02678dcbd55d941953417470e080bcbef848acfafe3a0f7863f3b3e9c4",
)
"""SHA-256 of ``shape_image(16, 0, "train", i).tobytes()``, i = 0..3, from before labels."""
KEPT = {"train": 7, "test": 3}
"""Images per split of the ``labelled`` fixture: 7 of 10 (``max_images``) and all 3."""


def _prepare(root: pathlib.Path, labels: str | None, **changes) -> pathlib.Path:
    shapes = ShapesSourceConfig(num_train=10, num_test=3, seed=1, labels=labels)
    config = DataConfig(name="shapes", resolution=RESOLUTION, images_per_shard=4,
                        shapes=shapes, **changes)
    return prepare_dataset(config, root, progress=False)


@pytest.fixture(scope="module")
def labelled(tmp_path_factory) -> pathlib.Path:
    """Labelled shapes: ``KEPT`` images per split."""
    return _prepare(tmp_path_factory.mktemp("labelled"), labels="kind", max_images=7)


def test_pixels_are_those_drawn_before_labels_existed():
    digests = [hashlib.sha256(shape_image(RESOLUTION, 0, "train", index).tobytes()).hexdigest()
               for index in range(len(PINNED_SHA256))]
    assert tuple(digests) == PINNED_SHA256


@pytest.mark.parametrize("split", ["train", "test"])
def test_labelled_images_have_the_same_pixels(split):
    for index in range(20):
        image, _ = labelled_shape_image(RESOLUTION, 3, split, index, "kind")
        np.testing.assert_array_equal(image, shape_image(RESOLUTION, 3, split, index))


def test_labels_are_in_range_and_every_kind_occurs():
    labels = [labelled_shape_image(RESOLUTION, 0, "train", index, "kind")[1]
              for index in range(300)]
    assert all(isinstance(label, int) for label in labels)
    assert set(labels) == set(range(len(SHAPE_KINDS)))


@pytest.fixture
def drawn_shapes(monkeypatch) -> list[tuple[str, float, tuple[int, int, int]]]:
    """``(kind, area, fill)`` of every shape drawn from now on, measured on the drawn
    geometry (``fill``: its RGB colour)."""
    shapes = []
    ellipse, polygon = PIL.ImageDraw.ImageDraw.ellipse, PIL.ImageDraw.ImageDraw.polygon

    def record_ellipse(self, box, **options):
        left, top, right, bottom = box
        assert right - left == pytest.approx(bottom - top)  # a circle
        shapes.append(("circle", math.pi * ((right - left) / 2) ** 2, options["fill"]))
        return ellipse(self, box, **options)

    def record_polygon(self, corners, **options):
        x, y = np.asarray(corners).T
        area = abs(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1))) / 2  # shoelace
        shapes.append(({4: "square", 3: "triangle"}[len(corners)], area, options["fill"]))
        return polygon(self, corners, **options)

    monkeypatch.setattr(PIL.ImageDraw.ImageDraw, "ellipse", record_ellipse)
    monkeypatch.setattr(PIL.ImageDraw.ImageDraw, "polygon", record_polygon)
    return shapes


def test_the_label_is_the_kind_of_the_largest_drawn_shape(drawn_shapes):
    not_the_first = 0
    for index in range(100):
        drawn_shapes.clear()
        _, label = labelled_shape_image(RESOLUTION, 0, "train", index, "kind")
        largest, _, _ = max(drawn_shapes, key=lambda shape: shape[1])
        assert SHAPE_KINDS[label] == largest, f"image {index}: drawn {drawn_shapes}"
        not_the_first += largest != drawn_shapes[0][0]
    assert not_the_first > 5  # the images tell the largest shape from the first drawn


def test_colour_labels_bound_every_shape_hue(drawn_shapes):
    labels = []
    for index in range(150):
        drawn_shapes.clear()
        image, label = labelled_shape_image(RESOLUTION, 0, "train", index, "colour")
        labels.append(label)
        for _, _, fill in drawn_shapes:
            hue, _, _ = colorsys.rgb_to_hsv(*(channel / 255 for channel in fill))
            distance = abs((hue - label / len(COLOUR_CLASSES) + 0.5) % 1.0 - 0.5)
            assert distance <= 1 / 6 + 0.01, f"image {index}: hue {hue:.3f}, class {label}"
        assert image.shape == (RESOLUTION, RESOLUTION, 3) and image.dtype == np.uint8
    assert 35 < min(np.bincount(labels, minlength=len(COLOUR_CLASSES)))  # 50 expected


def test_colour_labelled_sets_are_their_own_images_and_classes(tmp_path):
    coloured = _prepare(tmp_path, labels="colour")
    assert load_manifest(coloured).label_names == COLOUR_CLASSES
    drawn = [labelled_shape_image(RESOLUTION, 1, "train", index, "colour")
             for index in range(10)]
    batches = load(coloured, "train", batch_size=10, shuffle=False, repeat=False,
                   with_labels=True)
    images, labels = next(iter(batches))
    assert labels.numpy().tolist() == [label for _, label in drawn]
    np.testing.assert_array_equal(next(iterate_uint8(coloured, "train", batch_size=10)),
                                  np.stack([image for image, _ in drawn]))
    assert any((image != shape_image(RESOLUTION, 1, "train", index)).any()
               for index, (image, _) in enumerate(drawn))


@pytest.mark.parametrize("labels", [True, "shape", 1])
def test_shape_labels_other_than_kind_colour_or_null_are_refused(labels):
    with pytest.raises(ConfigError, match=r"data.shapes.labels.*one of \['kind', 'colour'\]"):
        DataConfig.from_dict({"shapes": {"labels": labels}}, "data")
    with pytest.raises(ValueError, match=r"labels must be one of \['kind', 'colour'\]"):
        labelled_shape_image(RESOLUTION, 0, "train", 0, labels)


def test_prepare_counts_the_labels_it_writes(labelled):
    manifest = load_manifest(labelled)
    assert manifest.label_names == SHAPE_KINDS
    for split, info in manifest.splits.items():
        assert info.num_images == sum(info.label_counts) == KEPT[split]
        drawn = [labelled_shape_image(RESOLUTION, 1, split, index, "kind")[1]
                 for index in range(KEPT[split])]
        assert info.label_counts == tuple(np.bincount(drawn, minlength=len(SHAPE_KINDS)))
        batches = load(labelled, split, batch_size=4, shuffle=False, repeat=False,
                       drop_remainder=False, with_labels=True)
        loaded = np.concatenate([labels.numpy() for _, labels in batches])
        assert loaded.tolist() == drawn


def test_labels_leave_the_prepared_images_unchanged(labelled, tmp_path):
    unlabelled = _prepare(tmp_path, labels=None, max_images=7)
    manifest = load_manifest(unlabelled)
    assert manifest.label_names is None
    assert all(info.label_counts is None for info in manifest.splits.values())
    for split in ("train", "test"):
        np.testing.assert_array_equal(next(iterate_uint8(labelled, split, batch_size=7)),
                                      next(iterate_uint8(unlabelled, split, batch_size=7)))


def test_label_distribution_is_the_fraction_of_each_class(labelled):
    manifest = load_manifest(labelled)
    for split, info in manifest.splits.items():
        distribution = manifest.label_distribution(split)
        assert distribution.dtype == np.float64 and distribution.shape == (len(SHAPE_KINDS),)
        np.testing.assert_allclose(distribution, np.asarray(info.label_counts) / KEPT[split])
        assert distribution.sum() == pytest.approx(1.0)


def test_label_distribution_of_unlabelled_data_is_an_error(tmp_path):
    manifest = load_manifest(_prepare(tmp_path, labels=None))
    with pytest.raises(DataError, match="has no labels; prepare it with labels"):
        manifest.label_distribution()


def test_a_manifest_without_label_counts_loads_and_asks_to_prepare_again(labelled, tmp_path):
    values = json.loads((labelled / MANIFEST_NAME).read_text())
    for info in values["splits"].values():
        del info["label_counts"]  # as written before labels were counted
    (tmp_path / MANIFEST_NAME).write_text(json.dumps(values))
    manifest = load_manifest(tmp_path)
    assert manifest.splits["train"].label_counts is None
    with pytest.raises(DataError, match=r"no label counts.*prepare it again"):
        manifest.label_distribution("test")
