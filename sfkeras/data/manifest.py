"""``dataset.json``: what a prepared data set holds and how it was made.

The manifest records each shard's image count and byte size, so that a damaged data
set (a shard missing, truncated or grown) is refused before training or evaluating,
by :func:`checked_shard_paths`, at the cost of one ``stat`` per shard. Damage that
keeps the size (flipped bytes) is caught by the TFRecord checksums while reading;
:func:`sfkeras.data.pipeline.corrupt_shard_error` then finds the shard. Manifests of
format 1 (before sizes were recorded) are refused with the same fix: prepare again.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import pathlib
from typing import Any

import numpy as np

from sfkeras.errors import ConfigError, DataError

FORMAT_VERSION = 2
MANIFEST_NAME = "dataset.json"
PREVIEW_NAME = "preview.png"


@dataclasses.dataclass(frozen=True)
class SplitInfo:
    """One prepared split.

    Attributes:
        num_images: images written.
        shards: shard file names, in reading order.
        shard_images: images in each shard (same order).
        shard_bytes: each shard's file size in bytes (same order).
        num_skipped: unreadable images skipped (``on_error: skip``).
        skipped: the first few skipped images' names.
        label_counts: images written of each class, indexed by label (summing to
            ``num_images``), or ``None`` when unlabelled (or prepared before labels
            were counted).
    """

    num_images: int
    shards: tuple[str, ...]
    shard_images: tuple[int, ...]
    shard_bytes: tuple[int, ...]
    num_skipped: int = 0
    skipped: tuple[str, ...] = ()
    label_counts: tuple[int, ...] | None = None


@dataclasses.dataclass(frozen=True)
class Manifest:
    """Contents of ``dataset.json``.

    Attributes:
        name: data set name (the folder's name).
        resolution: image side length; images are ``[resolution, resolution, channels]``.
        channels: always 3 (RGB).
        source: ``shapes``, ``tfds`` or ``folder``.
        parameters: the ``data`` configuration that made it (other sources' keys omitted).
        splits: per split, counts and shard names.
        label_names: class names indexed by label, or ``None`` when unlabelled.
        content_hash: SHA-256 over every shard's name and bytes, in manifest order.
        format_version: version of this layout (:data:`FORMAT_VERSION`).
    """

    name: str
    resolution: int
    channels: int
    source: str
    parameters: dict[str, Any]
    splits: dict[str, SplitInfo]
    label_names: tuple[str, ...] | None
    content_hash: str
    format_version: int = FORMAT_VERSION

    @property
    def has_labels(self) -> bool:
        return self.label_names is not None

    def split(self, split: str) -> SplitInfo:
        """The :class:`SplitInfo` of ``split``, or a :class:`DataError` naming those present."""
        if split not in self.splits:
            raise DataError(f"prepared data set {self.name!r} has no split {split!r}; it has "
                            f"{sorted(self.splits)}")
        return self.splits[split]

    def label_distribution(self, split: str = "train") -> np.ndarray:
        """Fraction of the images of ``split`` in each class.

        Returns:
            ``float64 [num_classes]``, indexed by label, summing to 1.

        Raises:
            DataError: the data set has no labels, or its manifest has no label counts
                (it was written before they were recorded); the message says what to do.
        """
        if not self.has_labels:
            raise DataError(f"prepared data set {self.name!r} has no labels; prepare it with "
                            "labels (data.shapes.labels: colour or kind, data.tfds.label_key or "
                            "data.folder.labels: true)")
        counts = self.split(split).label_counts
        if counts is None:
            raise DataError(f"{MANIFEST_NAME} of prepared data set {self.name!r} has labels "
                            f"but no label counts (it was written before they were recorded): "
                            f"{PREPARE_AGAIN}")
        return np.asarray(counts, np.float64) / sum(counts)

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        values = json.loads(text)
        values["splits"] = {name: SplitInfo(**{k: tuple(v) if isinstance(v, list) else v
                                               for k, v in info.items()})
                            for name, info in values["splits"].items()}
        if values["label_names"] is not None:
            values["label_names"] = tuple(values["label_names"])
        return cls(**values)


def load_manifest(path: str | pathlib.Path) -> Manifest:
    """Read ``<path>/dataset.json`` of a prepared data set."""
    file = pathlib.Path(path) / MANIFEST_NAME
    if not file.exists():
        raise DataError(f"{file} not found: {path} is not a prepared data set; run the prepare "
                        "stage (`dvc repro prepare`) first")
    text = file.read_text()
    version = json.loads(text).get("format_version")
    if version != FORMAT_VERSION:
        raise DataError(f"{file} has format version {version}, this code reads "
                        f"{FORMAT_VERSION}: {PREPARE_AGAIN}")
    return Manifest.from_json(text)


def class_distribution(path: str | pathlib.Path, c_dim: int) -> np.ndarray | None:
    """The label distribution of the ``train`` split of the prepared data set at ``path``,
    for a network conditioned on ``c_dim`` classes (``generator.c_dim``).

    Returns:
        ``float64 [c_dim]`` summing to 1, or ``None`` for an unconditional network.

    Raises:
        ConfigError: (``generator.c_dim``) the data set has no labels or another number
            of classes.
        DataError: its manifest has labels but no counts (prepared before they were).
    """
    if c_dim == 0:
        return None
    manifest = load_manifest(path)
    if not manifest.has_labels:
        raise ConfigError("generator.c_dim", f"is {c_dim}, but the prepared data set {path} "
                          "has no labels: prepare it with labels (data.shapes.labels: colour "
                          "or kind, data.tfds.label_key or data.folder.labels: true) or set "
                          "c_dim to 0")
    if len(manifest.label_names) != c_dim:
        raise ConfigError("generator.c_dim", f"is {c_dim}, but the prepared data set {path} "
                          f"has {len(manifest.label_names)} classes: set c_dim to "
                          f"{len(manifest.label_names)}")
    return manifest.label_distribution("train")


def checked_shard_paths(path: str | pathlib.Path, manifest: Manifest, split: str
                        ) -> list[pathlib.Path]:
    """The shard files of ``split``, each checked to exist with its recorded size.

    Raises:
        DataError: naming the first shard that is missing or has another size, and
            the fix (prepare again).
    """
    path = pathlib.Path(path)
    info = manifest.split(split)
    files = [path / name for name in info.shards]
    for file, expected in zip(files, info.shard_bytes, strict=True):
        size = file.stat().st_size if file.is_file() else None
        if size != expected:
            found = "is missing" if size is None else f"has {size} bytes"
            raise DataError(f"shard {file} {found}, but {path / MANIFEST_NAME} records "
                            f"{expected} bytes ({info.num_images} images in "
                            f"{len(files)} shards): the prepared data set is damaged; "
                            f"{PREPARE_AGAIN}")
    return files


#: The fix of a damaged prepared data set.
PREPARE_AGAIN = "prepare it again (`sfkeras prepare` or `dvc repro prepare`)"


def content_hash(folder: pathlib.Path, shard_names: list[str]) -> str:
    """SHA-256 over the names and bytes of ``shard_names`` in ``folder``, in order."""
    digest = hashlib.sha256()
    for name in shard_names:
        digest.update(name.encode() + b"\0")
        with (folder / name).open("rb") as stream:
            for block in iter(lambda: stream.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()
