"""sfkeras: Styleformer (Park & Kim, CVPR 2022) in Keras 3 with a DVC pipeline."""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

__version__ = "0.1.0"
