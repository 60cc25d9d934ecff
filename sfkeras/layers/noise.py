"""Per-layer noise of the synthesis layers (Styleformer's encoders, StyleGAN2's convolutions).

Every synthesis layer adds noise in one of :data:`NOISE_MODES`. ``"random"`` noise is
drawn either from the layer's own seed generator (advancing its state) or, given an int
``[2]`` noise seed, statelessly (:func:`normal_noise`); the network folds one seed into
a distinct seed per stage, block and layer (:func:`fold_noise_seed`).
"""

from __future__ import annotations

import keras
from keras import ops

#: Noise modes of the synthesis layers (as in StyleGAN2-ADA).
NOISE_MODES = ("random", "const", "none")


def check_noise_mode(noise_mode: str) -> None:
    """Raise ``ValueError`` unless ``noise_mode`` is one of :data:`NOISE_MODES`."""
    if noise_mode not in NOISE_MODES:
        raise ValueError(f"noise_mode must be one of {list(NOISE_MODES)}, got {noise_mode!r}")


#: Multiplier of :func:`fold_noise_seed` (a prime above any index).
_FOLD_MULTIPLIER = 1_000_003


def fold_noise_seed(noise_seed, index: int):
    """The noise seed of part ``index`` (a stage, block or layer) of a network.

    Args:
        noise_seed: int ``[2]`` seed of the whole (``None``: stays ``None``).
        index: the part's index among its siblings.

    Returns:
        int32 ``[2]``: ``[seed[1], seed[0] * 1000003 + index + 1]`` (wrapping), so
        parts at any depth of the network tree get distinct seeds and each noise
        layer draws its own stream.
    """
    if noise_seed is None:
        return None
    seed = ops.cast(noise_seed, "int32")
    return ops.stack([seed[1], seed[0] * _FOLD_MULTIPLIER + (index + 1)])


def normal_noise(shape, dtype, seed_generator, noise_seed=None):
    """N(0, 1) noise: stateless from ``noise_seed`` (int ``[2]``) if given, else drawn
    from (and advancing) the layer's ``seed_generator``."""
    seed = seed_generator if noise_seed is None else _SeedTensor(noise_seed)
    return keras.random.normal(shape, dtype=dtype, seed=seed)


class _SeedTensor(keras.random.SeedGenerator):
    """A fixed seed tensor where ``keras.random`` expects a seed generator.

    ``keras.random`` takes integer seeds and generators but no seed tensors; this
    stand-in has no state variable (nothing to track or advance) and returns its
    seed on every draw.
    """

    def __init__(self, seed):  # no super().__init__(): it would create a state variable
        self.seed = ops.cast(seed, "int32")

    def next(self, ordered=True):
        return self.seed
