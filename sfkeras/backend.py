"""The Keras backend sfkeras runs on, and the guard of its TensorFlow-only parts.

The networks (``sfkeras.ops``, ``layers``, ``models``, the weight importers of
``sfkeras.convert`` and the FID Inception of ``sfkeras.metrics.inception``) are written
in ``keras.ops`` and run on any Keras 3 backend: set ``KERAS_BACKEND`` to ``jax`` or
``torch`` before the first ``import keras`` (sfkeras never sets it; Keras' default is
``tensorflow``). The data pipeline (``tf.data``), the
training loop (``tf.GradientTape``, ``tf.distribute``), SavedModel export and loading
are TensorFlow programs: their entry points call :func:`require_tensorflow`, which
fails at once with a :class:`~sfkeras.errors.BackendError` saying how to fix it.
"""

from __future__ import annotations

import keras

from sfkeras.errors import BackendError


def require_tensorflow(feature: str) -> None:
    """Raise unless Keras runs on TensorFlow.

    Args:
        feature: what needs TensorFlow, as the start of a sentence (e.g. ``"training"``).

    Raises:
        BackendError: Keras runs on another backend.
    """
    backend = keras.backend.backend()
    if backend != "tensorflow":
        raise BackendError(
            f"{feature} runs on TensorFlow only, but Keras runs on '{backend}'; unset "
            f"KERAS_BACKEND or set KERAS_BACKEND=tensorflow for it (the networks, their "
            f"weight importers and .keras files work on any backend)"
        )
