"""Networks built under Keras's ``"float64"`` dtype policy compute in float64 from end to
end (the replay of the original's training, ``sfkeras.training.replay``, relies on it),
while float16 inputs of the float32 islands are still widened."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from sfkeras.config import DiscriminatorConfig, GeneratorConfig
from sfkeras.models.discriminator import Discriminator
from sfkeras.models.generator import Generator, global_dtype_policy
from sfkeras.ops import at_least_float32

#: Styleformer stages (Linformer at 16), StyleGAN2 blocks and conditioning.
GENERATOR = GeneratorConfig(resolution=16, start_resolution=4, num_layers=(1, 1, 1),
                            hidden=(16, 16, 8), depth=8, z_dim=16, w_dim=16, c_dim=3,
                            linformer=True, linformer_dim=4, linformer_min_resolution=8,
                            styleformer_max_resolution=8, conv_clamp=256)


@pytest.mark.parametrize("dtype,widened", [("float16", "float32"), ("int32", "float32"),
                                           ("float32", "float32"), ("float64", "float64")])
def test_at_least_float32_widens_only_narrower_dtypes(dtype, widened):
    x = keras.ops.convert_to_tensor(np.arange(3), dtype)
    assert keras.backend.standardize_dtype(at_least_float32(x).dtype) == widened


def _networks(policy):
    with global_dtype_policy(policy):
        generator = Generator(GENERATOR, seed=0)
        discriminator = Discriminator(16, DiscriminatorConfig(channel_base=256, channel_max=16),
                                      c_dim=3)
        discriminator.build((None, 16, 16, 3))
    return generator, discriminator


def test_float64_networks_compute_in_float64_and_match_float32():
    g32, d32 = _networks(None)
    g64, d64 = _networks("float64")
    g64.set_weights(g32.get_weights())
    d64.set_weights(d32.get_weights())
    assert {v.dtype for v in g64.weights + d64.weights} == {"float64"}
    z = np.random.default_rng(0).standard_normal((2, 16))
    c = np.eye(3)[[0, 2]]
    images = {}
    for name, (generator, discriminator) in {"32": (g32, d32), "64": (g64, d64)}.items():
        images[name] = generator(z, c, noise_mode="const")
        logits = discriminator(images[name], c)
        assert keras.backend.standardize_dtype(images[name].dtype) == f"float{name}"
        assert keras.backend.standardize_dtype(logits.dtype) == f"float{name}"
    np.testing.assert_allclose(np.asarray(images["64"]), np.asarray(images["32"]), atol=1e-5)
