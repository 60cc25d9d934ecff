"""The Keras generator computes the original's function: parity with the reference fixtures.

Fixtures (``generator_small32``: the ablation model; ``generator_linformer64``:
Styleformer-L) hold the original's state dict, latents and every intermediate output,
computed with ``noise_mode='const'``. Images there are NCHW; ours are NHWC.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import load_fixture, to_numpy

from sfkeras.convert.generator import import_official_generator

pytestmark = pytest.mark.platform  # parity with the original's numbers (docs/PLATFORMS.md)

TOLERANCE = 1e-4
FIXTURES = ("generator_small32", "generator_linformer64")


def nhwc(images: np.ndarray) -> np.ndarray:
    return np.transpose(images, (0, 2, 3, 1))


@pytest.fixture(scope="module", params=FIXTURES)
def reference(request):
    data = load_fixture(request.param)
    state = {k.removeprefix("state/"): v for k, v in data.items() if k.startswith("state/")}
    generator = import_official_generator(json.loads(str(data["config"])), state)
    return data, generator


@pytest.mark.cross_backend
def test_mapping(reference):
    data, generator = reference
    ws = generator.mapping(data["z"])
    np.testing.assert_allclose(to_numpy(ws), data["ws"], rtol=0, atol=TOLERANCE)


@pytest.mark.cross_backend
def test_truncated_mapping(reference):
    data, generator = reference
    ws = generator.mapping(data["z"], truncation_psi=float(data["truncation_psi"]))
    np.testing.assert_allclose(to_numpy(ws), data["ws_trunc"], rtol=0, atol=TOLERANCE)


def test_every_block(reference):
    data, generator = reference
    blocks = generator.synthesis.blocks_outputs(data["ws"], noise_mode="const")
    expected = sorted(k.split("/")[1] for k in data if k.startswith("block/") and k.endswith("/x"))
    assert sorted(blocks) == expected
    for name, (tokens, img) in blocks.items():
        np.testing.assert_allclose(to_numpy(tokens), data[f"block/{name}/x"], rtol=0,
                                   atol=TOLERANCE, err_msg=f"{name} tokens")
        np.testing.assert_allclose(to_numpy(img), nhwc(data[f"block/{name}/img"]), rtol=0,
                                   atol=TOLERANCE, err_msg=f"{name} image")


@pytest.mark.cross_backend
def test_synthesis(reference):
    data, generator = reference
    images = generator.synthesis(data["ws"], noise_mode="const")
    np.testing.assert_allclose(to_numpy(images), nhwc(data["img"]), rtol=0, atol=TOLERANCE)


@pytest.mark.cross_backend
def test_full_generator(reference):
    """``img_full`` is the original's whole ``G(z)`` (mapping then synthesis)."""
    data, generator = reference
    images = generator(data["z"], noise_mode="const")
    np.testing.assert_allclose(to_numpy(images), nhwc(data["img_full"]), rtol=0, atol=TOLERANCE)


@pytest.mark.cross_backend
def test_truncated_generator(reference):
    data, generator = reference
    images = generator(data["z"], truncation_psi=float(data["truncation_psi"]),
                       noise_mode="const")
    np.testing.assert_allclose(to_numpy(images), nhwc(data["img_trunc"]), rtol=0, atol=TOLERANCE)


def test_attention_maps_are_distributions(reference):
    data, generator = reference
    config = generator.config
    last = sum(config.num_layers) - 1
    maps = to_numpy(generator.synthesis.attention_maps(data["ws"][:1], last, noise_mode="const"))
    seq = config.resolution**2
    kv = config.linformer_dim if config.linformer else seq
    assert maps.shape == (1, config.num_heads(config.hidden[-1]), seq, kv)
    np.testing.assert_allclose(maps.sum(-1), 1.0, atol=1e-5)
