"""The prepared-data record format: TFRecord shards of PNG-encoded images.

Each record is a serialised ``tf.train.Example`` with ``image`` (PNG bytes, RGB uint8) and,
for labelled data, ``label`` (int64). Shards of a split are named
``<split>-<index:05d>-of-<count:05d>.tfrecord``.
"""

from __future__ import annotations

import pathlib

import tensorflow as tf

IMAGE_FEATURE = "image"
LABEL_FEATURE = "label"


def serialize_example(png: bytes, label: int | None) -> bytes:
    """One record: PNG bytes and an optional integer label (deterministic bytes)."""
    features = {IMAGE_FEATURE: tf.train.Feature(bytes_list=tf.train.BytesList(value=[png]))}
    if label is not None:
        features[LABEL_FEATURE] = tf.train.Feature(int64_list=tf.train.Int64List(value=[label]))
    example = tf.train.Example(features=tf.train.Features(feature=features))
    return example.SerializeToString(deterministic=True)


def parse_example(record: tf.Tensor, with_label: bool = False) -> dict[str, tf.Tensor]:
    """Parse records (scalar or ``[N]`` string tensor) into ``image`` bytes and ``label``."""
    spec = {IMAGE_FEATURE: tf.io.FixedLenFeature([], tf.string)}
    if with_label:
        spec[LABEL_FEATURE] = tf.io.FixedLenFeature([], tf.int64)
    if record.shape.rank == 0:
        return tf.io.parse_single_example(record, spec)
    return tf.io.parse_example(record, spec)


def shard_name(split: str, index: int, count: int) -> str:
    return f"{split}-{index:05d}-of-{count:05d}.tfrecord"


class ShardWriter:
    """Writes the records of one split into shards of ``records_per_shard`` records.

    The shard count is only known at the end, so shards are written as
    ``<split>-<index>.partial`` and renamed to their final names by :meth:`close`.
    """

    def __init__(self, folder: pathlib.Path, split: str, records_per_shard: int):
        self._folder = folder
        self._split = split
        self._records_per_shard = records_per_shard
        self._partial: list[pathlib.Path] = []
        self._writer: tf.io.TFRecordWriter | None = None
        self._in_shard = 0

    def write(self, record: bytes) -> None:
        if self._writer is None or self._in_shard == self._records_per_shard:
            self._close_shard()
            path = self._folder / f"{self._split}-{len(self._partial):05d}.partial"
            self._partial.append(path)
            self._writer = tf.io.TFRecordWriter(str(path))
            self._in_shard = 0
        self._writer.write(record)
        self._in_shard += 1

    def close(self) -> list[str]:
        """Finish the last shard; return the final shard file names in order."""
        self._close_shard()
        names = [shard_name(self._split, i, len(self._partial)) for i in range(len(self._partial))]
        for path, name in zip(self._partial, names, strict=True):
            path.rename(self._folder / name)
        return names

    def _close_shard(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
