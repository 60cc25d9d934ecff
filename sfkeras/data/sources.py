"""Where images come from: the built-in shapes, any TFDS data set, a folder or zip archive.

A source lists its splits (``train`` and, where it has one, ``test``) and yields
:class:`RawImage` records in a fixed order. A record decodes its image only when
:meth:`RawImage.read` is called, so the caller decides what a corrupt file means
(:func:`sfkeras.data.prepare.prepare_dataset` fails or skips) and never more than one
image is decoded at a time.
"""

from __future__ import annotations

import abc
import dataclasses
import io
import os
import pathlib
import zipfile
from collections.abc import Callable, Iterator

import numpy as np
import PIL.Image
import tensorflow_datasets as tfds

from sfkeras.config.data import (
    DataConfig,
    FolderSourceConfig,
    ShapesSourceConfig,
    TfdsSourceConfig,
)
from sfkeras.data.images import crop_celeba_face
from sfkeras.data.shapes import LABEL_NAMES, labelled_shape_image, shape_image
from sfkeras.errors import DataError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp")


@dataclasses.dataclass(frozen=True)
class RawImage:
    """One not-yet-decoded image of a source.

    Attributes:
        name: where it comes from (file path, ``cifar10/train[17]``, ``shapes/train/3``),
            for error messages.
        read: decodes the image (may raise ``OSError``/``ValueError`` if it is corrupt).
        label: integer class, or ``None`` when the source has no labels.
    """

    name: str
    read: Callable[[], PIL.Image.Image]
    label: int | None = None


class Source(abc.ABC):
    """A data source: named splits of :class:`RawImage`, in a deterministic order."""

    label_names: tuple[str, ...] | None = None
    """Class names indexed by label, or ``None`` when the source has no labels."""

    @abc.abstractmethod
    def splits(self) -> tuple[str, ...]:
        """The prepared splits this source provides (``train`` first)."""

    @abc.abstractmethod
    def images(self, split: str) -> Iterator[RawImage]:
        """Yield the images of ``split`` in order."""

    def size_hint(self, split: str) -> int | None:
        """Number of images in ``split`` if known without reading it (for progress bars)."""
        del split
        return None


def open_source(config: DataConfig) -> Source:
    """The source selected by ``config.source``."""
    if config.source == "shapes":
        return ShapesSource(config.shapes, config.resolution)
    if config.source == "tfds":
        return TfdsSource(config.tfds)
    return FolderSource(config.folder)


class ShapesSource(Source):
    """The procedural shapes (:mod:`sfkeras.data.shapes`), drawn at the output resolution.

    Each image is drawn as its record is yielded. With ``labels`` (``kind`` or
    ``colour``), its class comes with it, indexing ``LABEL_NAMES[labels]``.
    """

    def __init__(self, config: ShapesSourceConfig, resolution: int):
        if resolution < 8:
            raise DataError(f"data.resolution: the shapes source draws at 8x8 or more, got "
                            f"{resolution}")
        self._config = config
        self._resolution = resolution
        if config.labels is not None:
            self.label_names = LABEL_NAMES[config.labels]

    def splits(self) -> tuple[str, ...]:
        return ("train", "test") if self._config.num_test > 0 else ("train",)

    def size_hint(self, split: str) -> int:
        return self._config.num_train if split == "train" else self._config.num_test

    def images(self, split: str) -> Iterator[RawImage]:
        resolution, seed = self._resolution, self._config.seed
        for index in range(self.size_hint(split)):
            if self._config.labels is None:
                pixels, label = shape_image(resolution, seed, split, index), None
            else:
                pixels, label = labelled_shape_image(resolution, seed, split, index,
                                                     self._config.labels)
            yield RawImage(name=f"shapes/{split}/{index}",
                           read=lambda pixels=pixels: PIL.Image.fromarray(pixels), label=label)


class TfdsSource(Source):
    """A TFDS data set; its ``splits`` form ``train`` and its ``test_splits`` form ``test``."""

    def __init__(self, config: TfdsSourceConfig):
        self._config = config
        try:
            self._builder = tfds.builder(config.name, data_dir=config.data_dir)
        except tfds.core.registered.DatasetNotFoundError as error:
            raise DataError(f"data.tfds.name: unknown TFDS data set {config.name!r}; see "
                            "https://www.tensorflow.org/datasets/catalog for the names "
                            f"({str(error).splitlines()[0]})") from None
        if not self._builder.is_prepared():
            if not config.download:
                where = config.data_dir or "~/tensorflow_datasets"
                raise DataError(
                    f"TFDS data set {config.name!r} is not prepared in {where}: set "
                    "data.tfds.download: true in params.yaml to let TFDS download and build "
                    f"it, or run `tfds build {config.name}"
                    + (f" --data_dir {config.data_dir}`" if config.data_dir else "`")
                    + " yourself")
            self._builder.download_and_prepare()
        available = set(self._builder.info.splits)  # empty if TFDS does not list them
        for split in (*config.splits, *config.test_splits):
            if available and split not in available:
                raise DataError(f"TFDS data set {config.name!r} has no split {split!r}; "
                                f"available: {sorted(available)}")
        self._groups = {"train": config.splits, "test": config.test_splits}
        if config.label_key is not None:
            self.label_names = self._class_names(config.label_key)

    def _class_names(self, key: str) -> tuple[str, ...]:
        features = self._builder.info.features
        feature = features[key] if features is not None and key in features.keys() else None
        if not isinstance(feature, tfds.features.ClassLabel):
            raise DataError(f"data.tfds.label_key: {self._config.name!r} has no class-label "
                            f"feature {key!r}; set label_key: null or name one")
        return tuple(feature.names)

    def splits(self) -> tuple[str, ...]:
        return tuple(split for split, group in self._groups.items() if group)

    def size_hint(self, split: str) -> int | None:
        known = self._builder.info.splits
        if not all(name in known for name in self._groups[split]):
            return None
        return sum(known[name].num_examples for name in self._groups[split])

    def images(self, split: str) -> Iterator[RawImage]:
        config = self._config
        crop = crop_celeba_face if config.crop == "celeba" else (lambda image: image)
        for tfds_split in self._groups[split]:
            dataset = self._builder.as_dataset(  # shard after shard: the stored order
                split=tfds_split, shuffle_files=False,
                read_config=tfds.ReadConfig(interleave_cycle_length=1))
            for index, example in enumerate(tfds.as_numpy(dataset)):
                if config.image_key not in example:
                    raise DataError(f"data.tfds.image_key: {config.name!r} has no feature "
                                    f"{config.image_key!r}; features: {sorted(example)}")
                pixels = np.asarray(example[config.image_key])
                label = None if config.label_key is None else int(example[config.label_key])
                yield RawImage(
                    name=f"{config.name}/{tfds_split}[{index}]",
                    read=lambda pixels=pixels: crop(_array_to_image(pixels)),
                    label=label)


def _array_to_image(pixels: np.ndarray) -> PIL.Image.Image:
    """``uint8 [H, W, C]`` (C = 1, 3 or 4) or ``[H, W]`` as a Pillow image."""
    if pixels.ndim == 3 and pixels.shape[-1] == 1:
        pixels = pixels[..., 0]
    return PIL.Image.fromarray(pixels)


class FolderSource(Source):
    """Images under a folder (recursively) or inside a ``.zip`` archive; split ``train``.

    Files are read in sorted order: a depth-first walk with each folder's entries sorted
    by name (one folder listing in memory at a time), or the archive's sorted member
    names. With ``labels``, an image's class is its first-level sub-folder, and classes
    are numbered in sorted order of their names.
    """

    def __init__(self, config: FolderSourceConfig):
        self._path = pathlib.Path(config.path).expanduser()
        self._labels = config.labels
        if not self._path.exists():
            raise DataError(f"data.folder.path: {self._path} does not exist; point it at a "
                            "folder or .zip archive of png/jpg/jpeg/webp images")
        self._is_zip = self._path.is_file()
        if self._is_zip and not zipfile.is_zipfile(self._path):
            raise DataError(f"data.folder.path: {self._path} is a file but not a zip archive")
        if self._labels:
            self.label_names = self._class_names()
            if not self.label_names:
                raise DataError(f"data.folder.labels is true but {self._path} has no "
                                "sub-folders to take class names from")
            self._label_ids = {name: index for index, name in enumerate(self.label_names)}

    def splits(self) -> tuple[str, ...]:
        return ("train",)

    def images(self, split: str) -> Iterator[RawImage]:
        assert split == "train"
        if self._is_zip:
            yield from self._zip_images()
        else:
            yield from self._folder_images()

    def _folder_images(self) -> Iterator[RawImage]:
        for relative in _sorted_walk(self._path):
            path = self._path / relative
            yield RawImage(name=str(path), read=lambda path=path: _decode(path),
                           label=self._label_of(relative))

    def _zip_images(self) -> Iterator[RawImage]:
        with zipfile.ZipFile(self._path) as archive:
            for member in _zip_image_names(archive):
                yield RawImage(
                    name=f"{self._path}:{member}",
                    read=lambda member=member: _decode(io.BytesIO(archive.read(member))),
                    label=self._label_of(member))

    def _class_names(self) -> tuple[str, ...]:
        if self._is_zip:
            with zipfile.ZipFile(self._path) as archive:
                names = {name.split("/")[0] for name in _zip_image_names(archive)
                         if "/" in name}
            return tuple(sorted(names))
        return tuple(sorted(entry.name for entry in os.scandir(self._path)
                            if entry.is_dir() and not entry.name.startswith(".")))

    def _label_of(self, relative: str) -> int | None:
        if not self._labels:
            return None
        parts = relative.split("/")
        if len(parts) < 2:
            raise DataError(f"data.folder.labels is true but {relative} is not inside a class "
                            f"sub-folder of {self._path}: move it into one or set labels: false")
        return self._label_ids[parts[0]]


def _decode(file) -> PIL.Image.Image:
    """Open and fully decode an image (so that truncated files fail here)."""
    image = PIL.Image.open(file)
    image.load()
    return image


def _is_image_name(name: str) -> bool:
    return name.lower().endswith(IMAGE_EXTENSIONS) and not name.split("/")[-1].startswith(".")


def _sorted_walk(root: pathlib.Path, prefix: str = "") -> Iterator[str]:
    """Relative ``/``-separated paths of image files under ``root``, depth first, sorted."""
    with os.scandir(root / prefix if prefix else root) as scan:
        entries = sorted(scan, key=lambda entry: entry.name)
    for entry in entries:
        relative = f"{prefix}{entry.name}"
        if entry.is_dir() and not entry.name.startswith("."):
            yield from _sorted_walk(root, relative + "/")
        elif entry.is_file() and _is_image_name(entry.name):
            yield relative


def _zip_image_names(archive: zipfile.ZipFile) -> list[str]:
    return sorted(name for name in archive.namelist()
                  if not name.endswith("/") and _is_image_name(name))
