"""What every exported artifact computes: latents to uint8 images with constant noise.

A latent always gives the same image (``noise_mode="const"``, the original's
``generate.py`` default), and images leave as uint8 ``clip(x * 127.5 + 128, 0, 255)``
truncated toward zero, as :func:`sfkeras.images.to_uint8` computes them.
"""

from __future__ import annotations

import keras
from keras import ops

NOISE_MODE = "const"


def images_uint8(images):
    """Generator images ``[N, H, W, C]`` (float, ~[-1, 1]) -> uint8, in ``keras.ops``."""
    return ops.cast(ops.clip(images * 127.5 + 128.0, 0.0, 255.0), "uint8")


def serving_model(generator, truncation_psi: float) -> keras.Model:
    """A functional model ``z float32 [N, z_dim]`` (and for a conditional generator
    ``c float32 [N, c_dim]``) ``-> images uint8 [N, H, W, C]``.

    The form Keras's ``Model.export`` converts to LiteRT and ONNX: psi and noise fixed,
    inputs named ``z`` and ``c``. It is built of the generator's two networks (the
    generator's own call), not of the generator Model, whose default signature would be
    traced without labels. Called once, so that its input shapes are known.
    """
    inputs = {"z": keras.Input((generator.z_dim,), name="z")}
    if generator.c_dim:
        inputs["c"] = keras.Input((generator.c_dim,), name="c")
    ws = generator.mapping(inputs["z"], inputs.get("c"), truncation_psi=truncation_psi)
    images = generator.synthesis(ws, noise_mode=NOISE_MODE)
    model = keras.Model(list(inputs.values()), images_uint8(images),
                        name=f"{generator.name}_serving")
    model([ops.zeros((1, tensor.shape[1])) for tensor in inputs.values()])
    return model
