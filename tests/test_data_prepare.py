"""The prepare stage: sources, bad input, determinism, atomicity, manifest and preview."""

from __future__ import annotations

import pathlib
import zipfile

import numpy as np
import PIL.Image
import pytest
import tensorflow_datasets as tfds

from sfkeras.config import ConfigError
from sfkeras.config.data import (
    DataConfig,
    FolderSourceConfig,
    ShapesSourceConfig,
    TfdsSourceConfig,
)
from sfkeras.data import DataError, iterate_uint8, load, load_manifest, prepare_dataset
from sfkeras.data.images import CELEBA_FACE_BOX, crop_celeba_face, fit_square, to_rgb
from sfkeras.data.shapes import shape_image

RESOLUTION = 16


def _shapes_config(**changes) -> DataConfig:
    values = dict(name="shapes", resolution=RESOLUTION, images_per_shard=4,
                  shapes=ShapesSourceConfig(num_train=10, num_test=3, seed=1))
    return DataConfig(**{**values, **changes})


def _folder_config(path: pathlib.Path, **changes) -> DataConfig:
    folder = FolderSourceConfig(path=str(path), labels=changes.pop("labels", False))
    return DataConfig(name="folder", source="folder", resolution=RESOLUTION, folder=folder,
                      **changes)


def _solid(mode: str, colour, size=(24, 20)) -> PIL.Image.Image:
    return PIL.Image.new(mode, size, colour)


@pytest.fixture
def image_folder(tmp_path) -> pathlib.Path:
    """``cats/`` and ``dogs/`` with png, jpg, grayscale, RGBA, palette files and a corrupt png."""
    root = tmp_path / "images"
    (root / "cats" / "more").mkdir(parents=True)
    (root / "dogs").mkdir()
    _solid("RGB", (200, 10, 10)).save(root / "cats" / "a_rgb.png")
    _solid("RGB", (10, 200, 10)).save(root / "cats" / "b.JPG", format="jpeg", quality=95)
    _solid("L", 90).save(root / "cats" / "more" / "c_gray.png")
    (root / "cats" / "notes.txt").write_text("not an image")
    _solid("RGBA", (0, 0, 255, 0)).save(root / "dogs" / "d_transparent.png")
    (root / "dogs" / "e_corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    _solid("P", 3).save(root / "dogs" / "f_palette.png")
    return root


def _partial_folders(root: pathlib.Path) -> list[pathlib.Path]:
    return [path for path in root.iterdir() if path.name.startswith(".")]


def _shard_bytes(folder: pathlib.Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.glob("*.tfrecord"))}


def test_shapes_source_writes_shards_manifest_and_preview(tmp_path):
    folder = prepare_dataset(_shapes_config(), tmp_path, progress=False)
    manifest = load_manifest(folder)
    assert folder == tmp_path / "shapes"
    assert manifest.resolution == RESOLUTION and manifest.channels == 3
    assert manifest.source == "shapes" and manifest.parameters["shapes"]["seed"] == 1
    assert "tfds" not in manifest.parameters and "folder" not in manifest.parameters
    assert {split: info.num_images for split, info in manifest.splits.items()} == {
        "train": 10, "test": 3}
    assert manifest.splits["train"].shards == tuple(
        f"train-0000{i}-of-00003.tfrecord" for i in range(3))
    assert sorted(path.name for path in folder.iterdir()) == sorted(
        ["dataset.json", "preview.png", "test-00000-of-00001.tfrecord",
         *manifest.splits["train"].shards])
    preview = PIL.Image.open(folder / "preview.png")
    assert preview.size == (8 * 64, 2 * 64)  # 10 images, 8 per row, tiles enlarged to 64 px
    images = np.concatenate(list(iterate_uint8(folder, "train", batch_size=4)))
    np.testing.assert_array_equal(images[7], shape_image(RESOLUTION, 1, "train", 7))


def test_same_parameters_give_byte_identical_shards(tmp_path):
    first = prepare_dataset(_shapes_config(), tmp_path / "a", progress=False)
    second = prepare_dataset(_shapes_config(), tmp_path / "b", progress=False)
    assert _shard_bytes(first) == _shard_bytes(second)
    assert (first / "dataset.json").read_bytes() == (second / "dataset.json").read_bytes()
    other_seed = _shapes_config(shapes=ShapesSourceConfig(num_train=10, num_test=3, seed=2))
    third = prepare_dataset(other_seed, tmp_path / "c", progress=False)
    assert load_manifest(third).content_hash != load_manifest(first).content_hash


def test_max_images_keeps_a_prefix_of_each_split(tmp_path):
    folder = prepare_dataset(_shapes_config(max_images=5), tmp_path, progress=False)
    manifest = load_manifest(folder)
    assert manifest.splits["train"].num_images == 5 and manifest.splits["test"].num_images == 3
    images = np.concatenate(list(iterate_uint8(folder, "train", batch_size=8)))
    expected = [shape_image(RESOLUTION, 1, "train", index) for index in range(5)]
    np.testing.assert_array_equal(images, np.stack(expected))


def test_folder_source_fails_naming_the_corrupt_file(image_folder, tmp_path):
    root = tmp_path / "prepared"
    with pytest.raises(DataError, match=r"e_corrupt\.png.*on_error: skip"):
        prepare_dataset(_folder_config(image_folder), root, progress=False)
    assert not (root / "folder").exists() and not _partial_folders(root)


def test_folder_source_skips_and_counts_corrupt_files(image_folder, tmp_path):
    config = _folder_config(image_folder, on_error="skip", labels=True)
    folder = prepare_dataset(config, tmp_path, progress=False)
    train = load_manifest(folder).splits["train"]
    assert train.num_images == 5 and train.num_skipped == 1
    assert train.skipped == (str(image_folder / "dogs" / "e_corrupt.png"),)
    assert load_manifest(folder).label_names == ("cats", "dogs")
    assert train.label_counts == (3, 2)  # of the images written: the corrupt dog is not
    images = np.concatenate(list(iterate_uint8(folder, batch_size=8)))
    # Sorted walk: cats/a_rgb.png, cats/b.JPG, cats/more/c_gray.png, dogs/d_.., dogs/f_..
    np.testing.assert_array_equal(images[0, 0, 0], [200, 10, 10])
    assert np.abs(images[1, 0, 0].astype(int) - [10, 200, 10]).max() <= 3  # jpeg
    np.testing.assert_array_equal(images[2, 0, 0], [90, 90, 90])  # grayscale -> RGB
    np.testing.assert_array_equal(images[3, 0, 0], [255, 255, 255])  # transparent -> white
    assert images.shape == (5, RESOLUTION, RESOLUTION, 3)
    batches = load(folder, batch_size=5, shuffle=False, repeat=False, with_labels=True)
    _, labels = next(iter(batches))
    assert labels.numpy().tolist() == [0, 0, 0, 1, 1]


def test_zip_archive_matches_the_folder(image_folder, tmp_path):
    (image_folder / "dogs" / "e_corrupt.png").unlink()
    archive = tmp_path / "images.zip"
    with zipfile.ZipFile(archive, "w") as stream:
        for path in sorted(image_folder.rglob("*")):
            stream.write(path, path.relative_to(image_folder).as_posix())
    from_folder = prepare_dataset(_folder_config(image_folder, labels=True), tmp_path / "a",
                                  progress=False)
    from_zip = prepare_dataset(_folder_config(archive, labels=True), tmp_path / "b",
                               progress=False)
    assert _shard_bytes(from_folder) == _shard_bytes(from_zip)
    assert load_manifest(from_zip).label_names == ("cats", "dogs")


def test_labels_need_class_sub_folders(tmp_path):
    (tmp_path / "flat").mkdir()
    _solid("RGB", (1, 2, 3)).save(tmp_path / "flat" / "x.png")
    with pytest.raises(DataError, match="no sub-folders"):
        prepare_dataset(_folder_config(tmp_path / "flat", labels=True), tmp_path / "out")


@pytest.mark.parametrize("make, message", [
    (lambda path: path.mkdir(), "has no images"),
    (lambda path: None, "does not exist"),
    (lambda path: path.write_text("plain text"), "not a zip archive"),
])
def test_empty_or_missing_sources_are_clear_errors(tmp_path, make, message):
    source = tmp_path / "source"
    make(source)
    with pytest.raises(DataError, match=message):
        prepare_dataset(_folder_config(source), tmp_path / "out", progress=False)


def test_all_unreadable_is_an_error_even_when_skipping(tmp_path):
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "x.jpg").write_bytes(b"garbage")
    with pytest.raises(DataError, match="all 1 images were unreadable"):
        prepare_dataset(_folder_config(tmp_path / "bad", on_error="skip"), tmp_path / "out",
                        progress=False)


def test_a_failed_run_leaves_the_previous_output_untouched(image_folder, tmp_path):
    good = prepare_dataset(_folder_config(image_folder, on_error="skip"), tmp_path,
                           progress=False)
    before = {path.name: path.read_bytes() for path in good.iterdir()}
    with pytest.raises(DataError):
        prepare_dataset(_folder_config(image_folder), tmp_path, progress=False)
    assert {path.name: path.read_bytes() for path in good.iterdir()} == before
    assert not _partial_folders(tmp_path)


def test_a_new_run_replaces_the_previous_output(tmp_path):
    prepare_dataset(_shapes_config(), tmp_path, progress=False)
    folder = prepare_dataset(_shapes_config(images_per_shard=100), tmp_path, progress=False)
    assert sorted(path.name for path in folder.glob("*.tfrecord")) == [
        "test-00000-of-00001.tfrecord", "train-00000-of-00001.tfrecord"]
    assert [path.name for path in tmp_path.iterdir()] == ["shapes"]


def test_tfds_source_concatenates_splits_and_keeps_labels(tmp_path):
    tfds_config = TfdsSourceConfig(name="cifar10", splits=("train", "test"),
                                   test_splits=("test",), label_key="label",
                                   data_dir=str(tmp_path / "tfds"), download=True)
    config = DataConfig(name="cifar", source="tfds", resolution=RESOLUTION, tfds=tfds_config)
    with tfds.testing.mock_data(num_examples=3, data_dir=str(tmp_path / "tfds")):
        folder = prepare_dataset(config, tmp_path / "out", progress=False)
        mocked = tfds.load("cifar10", split="test", data_dir=str(tmp_path / "tfds"))
        first = next(iter(tfds.as_numpy(mocked)))
    manifest = load_manifest(folder)
    assert manifest.splits["train"].num_images == 6 and manifest.splits["test"].num_images == 3
    test_images = next(iterate_uint8(folder, "test", batch_size=3))
    expected = fit_square(PIL.Image.fromarray(first["image"]), RESOLUTION, "center_crop")
    np.testing.assert_array_equal(test_images[0], expected)
    _, labels = next(iter(load(folder, "test", batch_size=3, shuffle=False, with_labels=True)))
    assert labels.numpy()[0] == first["label"]


def test_tfds_data_that_is_not_downloaded_says_how_to_get_it(tmp_path):
    config = DataConfig(source="tfds", tfds=TfdsSourceConfig(name="cifar10",
                                                            data_dir=str(tmp_path)))
    with pytest.raises(DataError, match=r"data\.tfds\.download: true.*tfds build cifar10"):
        prepare_dataset(config, tmp_path / "out")


def test_unknown_tfds_name_is_a_clear_error(tmp_path):
    config = DataConfig(source="tfds", tfds=TfdsSourceConfig(name="no_such_data_set_xyz"))
    with pytest.raises(DataError, match="unknown TFDS data set 'no_such_data_set_xyz'"):
        prepare_dataset(config, tmp_path)


@pytest.mark.parametrize("resolution", [40, 24 + 1, 2])
def test_unusable_resolutions_are_rejected_by_the_config(resolution):
    with pytest.raises(ConfigError, match="resolution"):
        DataConfig(resolution=resolution)


def test_three_times_power_of_two_resolution_works(tmp_path):
    folder = prepare_dataset(_shapes_config(resolution=48), tmp_path, progress=False)
    assert next(iterate_uint8(folder, batch_size=2)).shape == (2, 48, 48, 3)


def test_celeba_crop_cuts_the_face_box():
    pixels = np.zeros((218, 178, 3), np.uint8)
    left, top, right, bottom = CELEBA_FACE_BOX
    pixels[top:bottom, left:right] = 255
    face = np.asarray(crop_celeba_face(PIL.Image.fromarray(pixels)))
    assert face.shape == (128, 128, 3) and face.min() == 255
    assert (left + right) // 2 == 89 and (top + bottom) // 2 == 121
    with pytest.raises(ValueError, match="178x218"):
        crop_celeba_face(PIL.Image.new("RGB", (64, 64)))


def test_center_crop_keeps_the_middle_and_stretch_keeps_everything():
    pixels = np.zeros((10, 30, 3), np.uint8)
    pixels[:, :10] = (0, 0, 255)
    pixels[:, 10:20] = (255, 0, 0)
    pixels[:, 20:] = (0, 255, 0)
    image = PIL.Image.fromarray(pixels)
    np.testing.assert_array_equal(fit_square(image, 10, "center_crop"), pixels[:, 10:20])
    stretched = fit_square(image, 9, "stretch")
    assert stretched.shape == (9, 9, 3)
    assert stretched[4, 0].argmax() == 2 and stretched[4, 4].argmax() == 0
    assert stretched[4, 8].argmax() == 1


def test_sixteen_bit_grayscale_keeps_its_high_byte(tmp_path):
    pixels = np.array([[0, 256 * 100 + 99, 65535]], np.uint16)
    PIL.Image.fromarray(pixels).save(tmp_path / "deep.png")
    rgb = np.asarray(to_rgb(PIL.Image.open(tmp_path / "deep.png")))
    np.testing.assert_array_equal(rgb[0, :, 0], [0, 100, 255])
    assert rgb.shape == (1, 3, 3) and (rgb == rgb[..., :1]).all()


def test_shapes_need_eight_pixels(tmp_path):
    with pytest.raises(DataError, match="8x8"):
        prepare_dataset(_shapes_config(resolution=4), tmp_path)


def test_palette_and_grayscale_alpha_become_rgb():
    palette = PIL.Image.new("P", (4, 4), 0)
    palette.putpalette([10, 20, 30] + [0] * 765)
    assert to_rgb(palette).getpixel((0, 0)) == (10, 20, 30)
    assert to_rgb(PIL.Image.new("LA", (4, 4), (50, 255))).getpixel((0, 0)) == (50, 50, 50)
