"""The prepare stage: any source -> ``<root>/<name>/`` (shards, manifest, preview).

Output layout::

    <root>/<name>/
        train-00000-of-000NN.tfrecord ...   PNG images (and labels), see sfkeras.data.shards
        test-00000-of-000MM.tfrecord ...    where the source has a held-out split
        dataset.json                        Manifest: counts, resolution, source, hash
        preview.png                         grid of the first training images

Images stream from the source one at a time, so memory stays bounded whatever the data
set's size. Everything is written into a temporary sibling folder that replaces the
destination only once complete: a failure leaves the previous output (or none) in place.
The same parameters give byte-identical shards.
"""

from __future__ import annotations

import logging
import pathlib
import shutil
import tempfile
import uuid

import PIL.Image

from sfkeras.config.data import DataConfig
from sfkeras.data.images import encode_png, fit_square, image_grid, to_rgb
from sfkeras.data.manifest import (
    MANIFEST_NAME,
    PREVIEW_NAME,
    Manifest,
    SplitInfo,
    content_hash,
)
from sfkeras.data.shards import ShardWriter, serialize_example
from sfkeras.data.sources import Source, open_source
from sfkeras.errors import DataError
from sfkeras.progress import progress_bar

logger = logging.getLogger(__name__)

PREVIEW_COLUMNS = 8
PREVIEW_IMAGES = 64
SKIPPED_LISTED = 20
"""How many skipped images the manifest names (it always counts them all)."""

UNREADABLE = (OSError, ValueError, SyntaxError, EOFError, PIL.Image.DecompressionBombError)
"""What Pillow raises for corrupt, truncated or unsupported files."""


def prepare_dataset(
    config: DataConfig, root: str | pathlib.Path = "data/prepared", *, progress: bool = True
) -> pathlib.Path:
    """Prepare the data set described by ``config`` into ``root/config.name``.

    Args:
        config: the ``data`` section of ``params.yaml``.
        root: parent folder of prepared data sets.
        progress: show a tqdm progress bar per split.

    Returns:
        The prepared folder, ``root/config.name``.

    Raises:
        DataError: the source is missing, empty or (with ``on_error: fail``) holds an
            unreadable image; the message says what to do.
    """
    root = pathlib.Path(root)
    root.mkdir(parents=True, exist_ok=True)
    destination = root / config.name
    source = open_source(config)
    staging = pathlib.Path(tempfile.mkdtemp(prefix=f".{config.name}.", suffix=".partial",
                                            dir=root))
    staging.chmod(0o755)  # mkdtemp makes it private
    try:
        preview: list = []
        splits = {split: _write_split(source, split, config, staging, preview, progress)
                  for split in source.splits()}
        image_grid(preview, PREVIEW_COLUMNS).save(staging / PREVIEW_NAME)
        shard_names = [name for info in splits.values() for name in info.shards]
        manifest = Manifest(
            name=config.name,
            resolution=config.resolution,
            channels=3,
            source=config.source,
            parameters=_source_parameters(config),
            splits=splits,
            label_names=source.label_names,
            content_hash=content_hash(staging, shard_names),
        )
        (staging / MANIFEST_NAME).write_text(manifest.to_json())
        _replace_folder(staging, destination)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return destination


def summarize(manifest: Manifest) -> str:
    """One line per split, for the stage's log."""
    lines = [f"{manifest.name}: {manifest.source} at {manifest.resolution}x"
             f"{manifest.resolution}, hash {manifest.content_hash[:12]}"]
    for split, info in manifest.splits.items():
        skipped = f", {info.num_skipped} unreadable skipped" if info.num_skipped else ""
        lines.append(f"  {split}: {info.num_images} images in {len(info.shards)} shards"
                     f"{skipped}")
    return "\n".join(lines)


def _write_split(
    source: Source,
    split: str,
    config: DataConfig,
    folder: pathlib.Path,
    preview: list,
    progress: bool,
) -> SplitInfo:
    """Stream ``split`` of ``source`` into shards; collect the first training images."""
    writer = ShardWriter(folder, split, config.images_per_shard)
    total = source.size_hint(split)
    if config.max_images is not None and total is not None:
        total = min(total, config.max_images)
    num_images, num_skipped, skipped = 0, 0, []
    label_counts = None if source.label_names is None else [0] * len(source.label_names)
    with progress_bar(total=total, desc=f"prepare {config.name}/{split}", unit="img",
                      disable=not progress) as bar:
        for raw in source.images(split):
            if config.max_images is not None and num_images == config.max_images:
                break
            try:
                pixels = fit_square(to_rgb(raw.read()), config.resolution, config.resize)
            except UNREADABLE as error:
                if config.on_error == "fail":
                    raise DataError(f"cannot read image {raw.name}: {error}. Remove or fix "
                                    "the file, or set data.on_error: skip") from error
                num_skipped += 1
                if len(skipped) < SKIPPED_LISTED:
                    skipped.append(raw.name)
                continue
            writer.write(serialize_example(encode_png(pixels), raw.label))
            if label_counts is not None:
                label_counts[raw.label] += 1
            if split == "train" and len(preview) < PREVIEW_IMAGES:
                preview.append(pixels)
            num_images += 1
            bar.update()
    shards = writer.close()
    full, last = divmod(num_images, config.images_per_shard)
    shard_images = [config.images_per_shard] * full + ([last] if last else [])
    if num_skipped:
        logger.warning("%s/%s: skipped %d unreadable images, e.g. %s", config.name, split,
                       num_skipped, skipped[0])
    if num_images == 0:
        reason = f"all {num_skipped} images were unreadable" if num_skipped else "it has no images"
        raise DataError(f"split {split!r} of the {config.source} source is empty: {reason}; "
                        "check the data section of params.yaml")
    return SplitInfo(num_images=num_images, shards=tuple(shards),
                     shard_images=tuple(shard_images),
                     shard_bytes=tuple((folder / name).stat().st_size for name in shards),
                     num_skipped=num_skipped, skipped=tuple(skipped),
                     label_counts=None if label_counts is None else tuple(label_counts))


def _source_parameters(config: DataConfig) -> dict:
    """``config`` as a dict, keeping only the selected source's sub-section."""
    parameters = config.to_dict()
    for other in {"shapes", "tfds", "folder"} - {config.source}:
        del parameters[other]
    return parameters


def _replace_folder(new: pathlib.Path, destination: pathlib.Path) -> None:
    """Move ``new`` to ``destination``, replacing (then deleting) any previous folder."""
    if not destination.exists():
        new.rename(destination)
        return
    old = destination.with_name(f".{destination.name}.{uuid.uuid4().hex[:8]}.old")
    destination.rename(old)
    new.rename(destination)
    shutil.rmtree(old)
