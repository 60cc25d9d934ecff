"""Export a trained generator as a TensorFlow SavedModel for serving.

Signatures (all use constant noise, so a latent always gives the same image):

- ``serving_default``: ``z float32 [N, z_dim]`` -> ``images uint8 [N, H, W, 3]`` with the
  export's default truncation psi;
- ``generate``: ``z``, ``truncation_psi float32 []`` -> ``images`` (psi chosen per call);
- ``mapping``: ``z``, ``truncation_psi`` -> ``ws float32 [N, num_ws, w_dim]``;
- ``synthesis``: ``ws`` -> ``images`` (style mixing and editing in W on the server).

The SavedModel needs TensorFlow only (no sfkeras, no Keras): load it with TensorFlow's
``saved_model.load`` and call ``.signatures["serving_default"](z=z)["images"]``
(README, "Serving the SavedModel"); sfkeras itself reads it through
:class:`sfkeras.saved.loader.ExportedGenerator`.
"""

from __future__ import annotations

import pathlib
import shutil

import keras
import tensorflow as tf

from sfkeras.backend import require_tensorflow
from sfkeras.saved.loader import load_generator

NOISE_MODE = "const"


def _images_uint8(images: tf.Tensor) -> tf.Tensor:
    """``clip(x * 127.5 + 128, 0, 255)`` truncated to uint8 (see ``sfkeras.images``)."""
    return tf.cast(tf.clip_by_value(images * 127.5 + 128.0, 0.0, 255.0), tf.uint8)


def export_generator(network: pathlib.Path, out_dir: pathlib.Path,
                     truncation_psi: float = 1.0) -> pathlib.Path:
    """Write ``out_dir/saved_model`` and a copy of the ``.keras`` file ``network``.

    Args:
        network: the generator's ``.keras`` file (e.g. ``data/train/G_ema.keras``).
        out_dir: output folder (replaced).
        truncation_psi: psi of the ``serving_default`` signature.

    Returns:
        The SavedModel folder.

    Raises:
        BackendError: Keras runs on another backend than TensorFlow.
    """
    require_tensorflow("export (a TensorFlow SavedModel)")
    generator = load_generator(network)
    z_spec = tf.TensorSpec([None, generator.z_dim], tf.float32, name="z")
    psi_spec = tf.TensorSpec([], tf.float32, name="truncation_psi")
    ws_spec = tf.TensorSpec([None, generator.num_ws, generator.w_dim], tf.float32, name="ws")

    def synthesize(ws):
        return {"images": _images_uint8(generator.synthesis(ws, noise_mode=NOISE_MODE))}

    def generate(z, psi):
        return synthesize(generator.mapping(z, truncation_psi=psi))

    archive = keras.export.ExportArchive()
    archive.track(generator)
    archive.add_endpoint("serving_default", lambda z: generate(z, truncation_psi), [z_spec])
    archive.add_endpoint("generate", generate, [z_spec, psi_spec])
    archive.add_endpoint(
        "mapping", lambda z, psi: {"ws": generator.mapping(z, truncation_psi=psi)},
        [z_spec, psi_spec])
    archive.add_endpoint("synthesis", synthesize, [ws_spec])

    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    saved_model = out_dir / "saved_model"
    archive.write_out(str(saved_model), verbose=False)
    shutil.copy2(network, out_dir / network.name)
    print(f"export: SavedModel -> {saved_model} (signatures serving_default, generate, "
          "mapping, synthesis)")
    return saved_model
