"""Training: losses, discriminator augmentation (ADA), EMA, the loop, checkpoints.

TensorFlow only (``tf.GradientTape``, ``tf.distribute``, ``tf.train.Checkpoint``):
importing it under another Keras backend raises :class:`~sfkeras.errors.BackendError`.
"""

from sfkeras.backend import require_tensorflow

require_tensorflow("training (sfkeras.training)")
