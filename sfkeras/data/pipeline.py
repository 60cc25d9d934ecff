"""Reading prepared data sets: the training input pipeline and plain uint8 iteration.

Training images are ``float32 [batch, H, W, 3]`` in ``[-1, 1]`` (``x / 127.5 - 1`` of the
uint8 pixels, as the original's training loop), NHWC. Under ``tf.distribute`` use
:func:`load_distributed`, or pass the ``tf.distribute.InputContext`` to :func:`load`
yourself: each input pipeline then reads its own shards (or every n-th record when there
are fewer shards than pipelines) and batches ``input_context.get_per_replica_batch_size``.
"""

from __future__ import annotations

import pathlib
from collections.abc import Iterator

import numpy as np
import tensorflow as tf

from sfkeras.data.manifest import PREPARE_AGAIN, checked_shard_paths, load_manifest
from sfkeras.data.shards import IMAGE_FEATURE, LABEL_FEATURE, parse_example
from sfkeras.errors import DataError

MAX_SHUFFLE_BUFFER = 10000
SHUFFLE_BUFFER_BYTES = 256 << 20
"""Default shuffle buffer: at most this many bytes of (uncompressed PNG) records, and at
most ``MAX_SHUFFLE_BUFFER`` records (10,000 at 32x32 and 64x64, 1,365 at 256x256)."""


def load(
    path: str | pathlib.Path,
    split: str = "train",
    *,
    batch_size: int,
    shuffle: bool = True,
    mirror: bool = False,
    repeat: bool = True,
    seed: int = 0,
    drop_remainder: bool = True,
    with_labels: bool = False,
    input_context: tf.distribute.InputContext | None = None,
    shuffle_buffer: int | None = None,
) -> tf.data.Dataset:
    """Batches of training images from a prepared data set.

    Args:
        path: prepared folder (``data/prepared/<name>``).
        split: ``train`` or ``test``.
        batch_size: global batch size; with ``input_context`` each pipeline batches
            ``input_context.get_per_replica_batch_size(batch_size)``.
        shuffle: shuffle shard order and records (buffer ``shuffle_buffer``), anew each
            epoch; with ``False`` records come in prepared order.
        mirror: flip each image left-right with probability 1/2 (StyleGAN2-ADA's
            ``--mirror``, which doubles the data set with flipped copies, in expectation).
        repeat: repeat forever.
        seed: seed of shuffling and flips; the same seed gives the same stream.
        drop_remainder: drop a last incomplete batch.
        with_labels: yield ``(images, labels)`` with ``int64 [batch]`` labels (the data
            set must have labels).
        input_context: from ``strategy.distribute_datasets_from_function``.
        shuffle_buffer: records in the shuffle buffer (``None``: about
            ``SHUFFLE_BUFFER_BYTES`` worth, at most ``MAX_SHUFFLE_BUFFER``).

    Returns:
        ``tf.data.Dataset`` of ``float32 [batch, H, W, 3]`` in ``[-1, 1]`` (or
        ``(images, labels)``), prefetched.

    Raises:
        DataError: ``path`` is not a prepared data set, lacks ``split``, lacks the
            labels that ``with_labels`` asks for, or a shard is missing or has another
            size than ``dataset.json`` records. A shard whose bytes are corrupt raises
            ``tf.errors.DataLossError`` while iterating; :func:`corrupt_shard_error`
            turns it into a :class:`DataError` naming the shard.
    """
    path = pathlib.Path(path)
    manifest = load_manifest(path)
    if with_labels and not manifest.has_labels:
        raise DataError(f"{path} has no labels; prepare it with labels or pass "
                        "with_labels=False")
    files = [str(file) for file in checked_shard_paths(path, manifest, split)]
    pipeline_id, num_pipelines = 0, 1
    if input_context is not None:
        pipeline_id = input_context.input_pipeline_id
        num_pipelines = input_context.num_input_pipelines
        batch_size = input_context.get_per_replica_batch_size(batch_size)

    records = _records(files, pipeline_id, num_pipelines, shuffle, seed)
    if shuffle:
        if shuffle_buffer is None:
            record_bytes = 3 * manifest.resolution**2
            shuffle_buffer = min(MAX_SHUFFLE_BUFFER, SHUFFLE_BUFFER_BYTES // record_bytes)
        records = records.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    if repeat:
        records = records.repeat()
    resolution = manifest.resolution
    dataset = records.batch(batch_size, drop_remainder=drop_remainder).map(
        lambda batch: _decode_batch(batch, resolution, with_labels),
        num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    if mirror:
        key = tf.constant([seed, pipeline_id], tf.int64)
        dataset = dataset.enumerate().map(
            lambda index, element: _mirror(element, key, index, with_labels),
            num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return dataset.prefetch(tf.data.AUTOTUNE)


def load_distributed(
    strategy: tf.distribute.Strategy, path: str | pathlib.Path, split: str = "train", *,
    batch_size: int, **options
) -> tf.distribute.DistributedDataset:
    """:func:`load` for every input pipeline of ``strategy``; ``batch_size`` is global.

    Each replica receives ``batch_size / num_replicas_in_sync`` distinct images per step.
    ``options`` are :func:`load`'s keyword arguments.
    """
    return strategy.distribute_datasets_from_function(
        lambda context: load(path, split, batch_size=batch_size, input_context=context,
                             **options))


def iterate_uint8(
    path: str | pathlib.Path, split: str = "train", batch_size: int = 256,
    max_images: int | None = None,
) -> Iterator[np.ndarray]:
    """Yield every image of ``split`` once, in prepared order, as ``uint8 [b, H, W, 3]``.

    The last batch may be smaller. ``max_images`` stops after that many images.

    Raises:
        DataError: as :func:`load`; a corrupt shard is named.
    """
    path = pathlib.Path(path)
    manifest = load_manifest(path)
    files = [str(file) for file in checked_shard_paths(path, manifest, split)]
    dataset = tf.data.TFRecordDataset(files)
    if max_images is not None:
        dataset = dataset.take(max_images)
    dataset = dataset.batch(batch_size).map(
        lambda batch: _decode_images(parse_example(batch)[IMAGE_FEATURE],
                                     manifest.resolution),
        num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    try:
        for images in dataset.prefetch(tf.data.AUTOTUNE):
            yield images.numpy()
    except tf.errors.DataLossError as error:
        raise corrupt_shard_error(path, split, error) from error


def corrupt_shard_error(path: str | pathlib.Path, split: str,
                        error: tf.errors.DataLossError) -> DataError:
    """The :class:`DataError` for a checksum failure while reading ``split`` of ``path``.

    TensorFlow's error names a byte offset but not always the file (shards are read
    interleaved), so each shard is read through to find the one that fails, or whose
    record count differs from ``dataset.json``. This reads the whole split, once, and
    only after an error.
    """
    path = pathlib.Path(path)
    info = load_manifest(path).split(split)
    for name, expected in zip(info.shards, info.shard_images, strict=True):
        file = path / name
        try:
            count = int(tf.data.TFRecordDataset(str(file)).reduce(
                tf.constant(0, tf.int64), lambda total, _: total + 1))
        except tf.errors.DataLossError:
            problem = "fails its TFRecord checksum (corrupt bytes, or cut mid-record)"
        else:
            if count == expected:
                continue
            problem = f"holds {count} records, dataset.json records {expected}"
        return DataError(f"shard {file} {problem}: the prepared data set is damaged; "
                         f"{PREPARE_AGAIN}")
    return DataError(f"reading {path} ({split}) failed: {error.message.splitlines()[0]}; "
                     f"the prepared data set may be damaged: {PREPARE_AGAIN}")


def num_images(path: str | pathlib.Path, split: str = "train") -> int:
    """Number of images in ``split`` of a prepared data set."""
    return load_manifest(path).split(split).num_images


def _records(
    files: list[str], pipeline_id: int, num_pipelines: int, shuffle: bool, seed: int
) -> tf.data.Dataset:
    """Serialized records of this pipeline's share: whole shards if there are enough."""
    by_file = len(files) >= num_pipelines
    if by_file:
        files = files[pipeline_id::num_pipelines]
    names = tf.data.Dataset.from_tensor_slices(files)
    if shuffle:  # the same order in every pipeline, so that sharding by record stays disjoint
        names = names.shuffle(len(files), seed=seed, reshuffle_each_iteration=True)
    records = names.interleave(  # without shuffling, one shard after the other
        tf.data.TFRecordDataset, cycle_length=min(len(files), 4) if shuffle else 1,
        num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return records if by_file else records.shard(num_pipelines, pipeline_id)


def _decode_images(png: tf.Tensor, resolution: int) -> tf.Tensor:
    """``string [N]`` PNGs -> ``uint8 [N, resolution, resolution, 3]``."""
    images = tf.map_fn(lambda data: tf.io.decode_png(data, channels=3), png,
                       fn_output_signature=tf.TensorSpec([None, None, 3], tf.uint8))
    return tf.ensure_shape(images, [None, resolution, resolution, 3])


def _decode_batch(batch: tf.Tensor, resolution: int, with_labels: bool):
    example = parse_example(batch, with_labels)
    images = tf.cast(_decode_images(example[IMAGE_FEATURE], resolution), tf.float32)
    images = images / 127.5 - 1.0
    return (images, example[LABEL_FEATURE]) if with_labels else images


def _mirror(element, key: tf.Tensor, index: tf.Tensor, with_labels: bool):
    """Flip each image of a batch left-right with probability 1/2 (stateless, seeded)."""
    images = element[0] if with_labels else element
    seed = tf.random.experimental.stateless_fold_in(key, index)
    flip = tf.random.stateless_uniform(tf.shape(images)[:1], seed=seed) < 0.5
    images = tf.where(flip[:, None, None, None], tf.reverse(images, axis=[2]), images)
    return (images, element[1]) if with_labels else images
