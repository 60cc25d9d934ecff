"""The working precision of the numerically delicate parts of the networks."""

from __future__ import annotations

import keras
from keras import ops


def at_least_float32(x):
    """``x`` in float32 when its dtype is narrower (float16, integers), else unchanged.

    Normalisations, demodulation and the losses are computed at no less than float32:
    under mixed precision their float16 inputs are widened (their epsilons underflow in
    float16), float32 is kept, and float64 stays float64, so that networks built under
    Keras's ``"float64"`` dtype policy compute in float64 from end to end (the replay
    of the original's training, :mod:`sfkeras.training.replay`).
    """
    x = ops.convert_to_tensor(x)
    return ops.cast(x, keras.backend.result_type(x.dtype, "float32"))
