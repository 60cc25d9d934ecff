"""Data source and preparation (``data:`` in ``params.yaml``)."""

from __future__ import annotations

import dataclasses
from typing import Literal

from sfkeras.config.base import Section


@dataclasses.dataclass(frozen=True)
class ShapesSourceConfig(Section):
    """The built-in procedural data set of coloured geometric shapes (offline).

    Attributes:
        num_train: images in the ``train`` split.
        num_test: images in the held-out ``test`` split.
        seed: seed of the generator; the same seed gives the same images.
        labels: class labels (``null``: none): ``kind`` labels each image with the kind
            of its largest shape by area (``circle``, ``square`` or ``triangle``; the
            images are the unlabelled ones), ``colour`` draws each image's class first
            (``red``, ``green`` or ``blue``) and its shapes in that class's hues.
    """

    num_train: int = 10000
    num_test: int = 1000
    seed: int = 0
    labels: Literal["kind", "colour"] | None = None

    def validate(self) -> None:
        if self.num_train < 1:
            self.fail("num_train", "must be >= 1")
        if self.num_test < 0:
            self.fail("num_test", "must be >= 0")


@dataclasses.dataclass(frozen=True)
class TfdsSourceConfig(Section):
    """Any TensorFlow Datasets data set.

    Attributes:
        name: TFDS name, e.g. ``cifar10``, ``stl10``, ``celeb_a``, ``lsun/church_outdoor``.
        splits: splits concatenated into the prepared ``train`` split (e.g.
            ``[train, unlabelled]``).
        test_splits: splits concatenated into the prepared held-out ``test`` split
            (``[]``: none).
        image_key: feature holding the image.
        label_key: integer feature stored as the label (``null``: no labels).
        data_dir: TFDS data folder (``null``: TFDS's default, ``~/tensorflow_datasets``).
        download: allow TFDS to download and build the data set if it is missing.
        crop: ``center``: the image goes to ``data.resize`` as it is; ``celeba``: first cut
            the 128x128 face box centred on (x=89, y=121) of the aligned 178x218 CelebA
            images (Progressive GAN's CelebA crop, the usual CelebA-64 protocol), then
            resize (see ``sfkeras.data.images.CELEBA_FACE_BOX``). (The Styleformer README's
            CelebA command resizes the whole aligned image instead: ``crop: center`` with
            ``data.resize: stretch``.)
    """

    name: str | None = None
    splits: tuple[str, ...] = ("train",)
    test_splits: tuple[str, ...] = ()
    image_key: str = "image"
    label_key: str | None = None
    data_dir: str | None = None
    download: bool = False
    crop: Literal["center", "celeba"] = "center"


@dataclasses.dataclass(frozen=True)
class FolderSourceConfig(Section):
    """A folder (searched recursively) or a zip archive of png/jpg/webp images.

    Attributes:
        path: the folder or ``.zip`` file.
        labels: take class labels from the first-level sub-folder names.
    """

    path: str | None = None
    labels: bool = False


@dataclasses.dataclass(frozen=True)
class DataConfig(Section):
    """Which images to prepare and how.

    Attributes:
        name: output folder ``data/prepared/<name>/``.
        source: ``shapes`` (built-in, offline), ``tfds`` or ``folder``.
        resolution: square output size; must equal ``generator.resolution``.
        resize: ``center_crop`` (crop the centre square, then resize) or ``stretch``.
        on_error: ``fail`` on the first unreadable image (naming it) or ``skip`` it
            and report the count.
        max_images: keep at most this many images per split (``null``: all).
        images_per_shard: images per TFRecord shard.
        shapes, tfds, folder: parameters of each source.
    """

    name: str = "shapes32"
    source: Literal["shapes", "tfds", "folder"] = "shapes"
    resolution: int = 32
    resize: Literal["center_crop", "stretch"] = "center_crop"
    on_error: Literal["fail", "skip"] = "fail"
    max_images: int | None = None
    images_per_shard: int = 4096
    shapes: ShapesSourceConfig = ShapesSourceConfig()
    tfds: TfdsSourceConfig = TfdsSourceConfig()
    folder: FolderSourceConfig = FolderSourceConfig()

    def validate(self) -> None:
        if self.resolution < 4 or self.resolution & (self.resolution - 1):
            if self.resolution % 3 or (self.resolution // 3) & (self.resolution // 3 - 1):
                self.fail("resolution", f"{self.resolution} is not a power of two (or 3 x a "
                          "power of two, like STL-10's 48)")
        if self.source == "tfds" and not self.tfds.name:
            self.fail("tfds.name", "source is 'tfds' but no TFDS name is set (e.g. cifar10)")
        if self.source == "folder" and not self.folder.path:
            self.fail("folder.path", "source is 'folder' but no path is set")
        if self.max_images is not None and self.max_images < 1:
            self.fail("max_images", "must be >= 1 or null")
        if self.images_per_shard < 1:
            self.fail("images_per_shard", "must be >= 1")
