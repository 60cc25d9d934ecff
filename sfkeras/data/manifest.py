"""``dataset.json``: what a prepared data set holds and how it was made."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import pathlib
from typing import Any

from sfkeras.data.errors import DataError

FORMAT_VERSION = 1
MANIFEST_NAME = "dataset.json"
PREVIEW_NAME = "preview.png"


@dataclasses.dataclass(frozen=True)
class SplitInfo:
    """One prepared split.

    Attributes:
        num_images: images written.
        shards: shard file names, in reading order.
        num_skipped: unreadable images skipped (``on_error: skip``).
        skipped: the first few skipped images' names.
    """

    num_images: int
    shards: tuple[str, ...]
    num_skipped: int = 0
    skipped: tuple[str, ...] = ()


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
                        f"{FORMAT_VERSION}: prepare the data set again")
    return Manifest.from_json(text)


def content_hash(folder: pathlib.Path, shard_names: list[str]) -> str:
    """SHA-256 over the names and bytes of ``shard_names`` in ``folder``, in order."""
    digest = hashlib.sha256()
    for name in shard_names:
        digest.update(name.encode() + b"\0")
        with (folder / name).open("rb") as stream:
            for block in iter(lambda: stream.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()
