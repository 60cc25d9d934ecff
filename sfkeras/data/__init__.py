"""Data: sources, the prepare stage and the tf.data input pipeline.

* :func:`prepare_dataset` turns a source (built-in shapes, TFDS, folder/zip) into
  ``data/prepared/<name>/``: PNG TFRecord shards, ``dataset.json``, ``preview.png``.
* :func:`load` / :func:`load_distributed` read it as ``float32 [-1, 1]`` training batches;
  :func:`iterate_uint8` yields its ``uint8`` images once, in order, for metrics.

Importing this package registers the TFDS builder ``sfkeras_shapes``.
"""

from sfkeras.data import shapes_tfds  # noqa: F401  (registers the TFDS builder)
from sfkeras.data.errors import DataError
from sfkeras.data.manifest import Manifest, SplitInfo, load_manifest
from sfkeras.data.pipeline import iterate_uint8, load, load_distributed, num_images
from sfkeras.data.prepare import prepare_dataset, summarize
from sfkeras.data.shapes import shape_image
from sfkeras.data.shapes_tfds import ShapesBuilderConfig

__all__ = [
    "DataError",
    "Manifest",
    "ShapesBuilderConfig",
    "SplitInfo",
    "iterate_uint8",
    "load",
    "load_distributed",
    "load_manifest",
    "num_images",
    "prepare_dataset",
    "shape_image",
    "summarize",
]
