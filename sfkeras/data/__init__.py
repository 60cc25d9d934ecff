"""Data: sources, the prepare stage and the tf.data input pipeline.

* :func:`prepare_dataset` turns a source (built-in shapes, TFDS, folder/zip) into
  ``data/prepared/<name>/``: PNG TFRecord shards, ``dataset.json``, ``preview.png``.
* :func:`load` / :func:`load_distributed` read it as ``float32 [-1, 1]`` training batches;
  :func:`iterate_uint8` yields its ``uint8`` images once, in order, for metrics.

Importing this package registers the TFDS builder ``sfkeras_shapes``. The package is
TensorFlow only (``tf.data``, TFDS): importing it under another Keras backend raises
:class:`~sfkeras.errors.BackendError`.
"""

from sfkeras.backend import require_tensorflow

require_tensorflow("the data pipeline (sfkeras.data)")

from sfkeras.data import shapes_tfds  # noqa: E402, F401  (registers the TFDS builder)
from sfkeras.data.manifest import (  # noqa: E402
    Manifest,
    SplitInfo,
    class_distribution,
    load_manifest,
)
from sfkeras.data.pipeline import iterate_uint8, load, load_distributed, num_images  # noqa: E402
from sfkeras.data.prepare import prepare_dataset, summarize  # noqa: E402
from sfkeras.data.shapes import shape_image  # noqa: E402
from sfkeras.data.shapes_tfds import ShapesBuilderConfig  # noqa: E402
from sfkeras.errors import DataError  # noqa: E402

__all__ = [
    "DataError",
    "Manifest",
    "ShapesBuilderConfig",
    "SplitInfo",
    "class_distribution",
    "iterate_uint8",
    "load",
    "load_distributed",
    "load_manifest",
    "num_images",
    "prepare_dataset",
    "shape_image",
    "summarize",
]
