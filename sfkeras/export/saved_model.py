"""The TensorFlow SavedModel of a generator (``export.formats``: ``saved_model``).

Signatures (all use constant noise, so a latent always gives the same image):

- ``serving_default``: ``z float32 [N, z_dim]`` -> ``images uint8 [N, H, W, 3]`` with the
  export's default truncation psi;
- ``generate``: ``z``, ``truncation_psi float32 []`` -> ``images`` (psi chosen per call);
- ``mapping``: ``z``, ``truncation_psi`` -> ``ws float32 [N, num_ws, w_dim]``;
- ``synthesis``: ``ws`` -> ``images`` (style mixing and editing in W on the server).

A conditional generator's ``serving_default``, ``generate`` and ``mapping`` also take the
one-hot labels ``c float32 [N, c_dim]``.

``assets.extra/generator.json`` holds the generator's hyper-parameters (the
``generator`` section it was built with, ablation switches included).

The SavedModel needs TensorFlow only (no sfkeras, no Keras): load it with TensorFlow's
``saved_model.load`` and call ``.signatures["serving_default"](z=z)["images"]``
(README, "Serving the SavedModel"); sfkeras itself reads it through
:class:`sfkeras.saved.loader.ExportedGenerator`.
"""

from __future__ import annotations

import json
import pathlib

import keras
import numpy as np
import tensorflow as tf

from sfkeras.export.serving import NOISE_MODE, images_uint8
from sfkeras.saved.loader import SAVED_MODEL_CONFIG


def write_saved_model(generator, path: pathlib.Path, truncation_psi: float) -> None:
    """Write the SavedModel of ``generator`` (a :class:`~sfkeras.models.Generator`) to
    the folder ``path``, ``truncation_psi`` being ``serving_default``'s psi."""
    z_spec = tf.TensorSpec([None, generator.z_dim], tf.float32, name="z")
    c_spec = tf.TensorSpec([None, generator.c_dim], tf.float32, name="c")
    psi_spec = tf.TensorSpec([], tf.float32, name="truncation_psi")
    ws_spec = tf.TensorSpec([None, generator.num_ws, generator.w_dim], tf.float32, name="ws")

    def synthesize(ws):
        return {"images": images_uint8(generator.synthesis(ws, noise_mode=NOISE_MODE))}

    def mapping(z, c, psi):
        return generator.mapping(z, c, truncation_psi=psi)

    archive = keras.export.ExportArchive()
    # The two networks, not the Model: a Model brings a default signature of its own,
    # which would call it without the labels of a conditional generator.
    archive.track(generator.mapping)
    archive.track(generator.synthesis)
    if generator.c_dim:
        archive.add_endpoint("serving_default",
                             lambda z, c: synthesize(mapping(z, c, truncation_psi)),
                             [z_spec, c_spec])
        archive.add_endpoint("generate", lambda z, c, psi: synthesize(mapping(z, c, psi)),
                             [z_spec, c_spec, psi_spec])
        archive.add_endpoint("mapping", lambda z, c, psi: {"ws": mapping(z, c, psi)},
                             [z_spec, c_spec, psi_spec])
    else:
        archive.add_endpoint("serving_default",
                             lambda z: synthesize(mapping(z, None, truncation_psi)), [z_spec])
        archive.add_endpoint("generate", lambda z, psi: synthesize(mapping(z, None, psi)),
                             [z_spec, psi_spec])
        archive.add_endpoint("mapping", lambda z, psi: {"ws": mapping(z, None, psi)},
                             [z_spec, psi_spec])
    archive.add_endpoint("synthesis", synthesize, [ws_spec])
    archive.write_out(str(path), verbose=False)
    (path / SAVED_MODEL_CONFIG).parent.mkdir(exist_ok=True)
    (path / SAVED_MODEL_CONFIG).write_text(
        json.dumps(generator.config.to_dict(), indent=2) + "\n")


def run_saved_model(path: pathlib.Path, inputs: dict[str, np.ndarray]) -> np.ndarray:
    """``serving_default`` of the SavedModel at ``path`` on ``inputs`` (``z`` and, for a
    conditional generator, ``c``): uint8 images."""
    serve = tf.saved_model.load(str(path)).signatures["serving_default"]
    return serve(**{name: tf.constant(value) for name, value in inputs.items()})["images"].numpy()
