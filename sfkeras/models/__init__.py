"""Keras models of the port: the Styleformer generator and StyleGAN2's discriminator."""

from __future__ import annotations

import pathlib

from sfkeras.models.discriminator import Discriminator
from sfkeras.models.generator import Generator, SynthesisNetwork, parameter_counts


def load_generator(path: str | pathlib.Path) -> Generator:
    """Load a generator saved as ``.keras`` (e.g. ``data/train/G_ema.keras``).

    Raises:
        FileNotFoundError: no such file (with the stage that writes it).
        ValueError: the file holds something other than a sfkeras generator.
    """
    import keras

    path = pathlib.Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: generator not found; run the train stage first "
                                "(dvc repro train) or pass --network")
    model = keras.saving.load_model(path, compile=False)
    if not isinstance(model, Generator):
        raise ValueError(f"{path} holds a {type(model).__name__}, not a sfkeras Generator")
    return model


__all__ = ["Discriminator", "Generator", "SynthesisNetwork", "load_generator",
           "parameter_counts"]
