"""``train.init_from``: start a new run from trained weights (StyleGAN2-ADA's ``--resume``).

The original copies the parameters and buffers of ``G``, ``D`` and ``G_ema`` from the
pickle into freshly built networks and starts everything else afresh (optimisers,
augmentation probability, image count). :func:`initialise_from` does the same for a
:class:`~sfkeras.training.trainer.Trainer` from any source of
:func:`sfkeras.saved.loader.load_networks`:

- a generator ``.keras`` file: G and G_ema (``w_avg`` and noise constants included);
  D keeps its initialisation;
- a training run folder: G, G_ema and D of its newest checkpoint (of any run);
- an original ``network-snapshot-*.pkl``: G, G_ema and D (read without torch).

The architecture must match the configuration's; otherwise nothing is changed and the
error names the mismatch. The source's content hash is part of the run key
(:func:`sfkeras.saved.runs.source_digest`).
"""

from __future__ import annotations

import pathlib
from typing import Any

from sfkeras.errors import ConfigError
from sfkeras.saved.loader import load_networks

KEY = "train.init_from"


def initialise_from(trainer: Any, path: str | pathlib.Path) -> list[str]:
    """Copy the source's networks into ``trainer`` (G, G_ema, D where present).

    Returns:
        The networks copied, in the source's order, e.g. ``["G", "G_ema", "D"]``.

    Raises:
        MissingFileError: no such source.
        ConfigError: a source network's weights do not fit the trainer's (other
            architecture); nothing is assigned then.
        SnapshotError, WeightImportError, UnreadableCheckpointError: an unreadable source.
    """
    targets = {"G": trainer.generator, "G_ema": trainer.generator_ema,
               "D": trainer.discriminator}
    weights = {name: network.get_weights() for name, network in load_networks(path).items()}
    for name, values in weights.items():
        _check_shapes(name, [v.shape for v in targets[name].weights],
                      [v.shape for v in values], path)
    for name, values in weights.items():
        targets[name].set_weights(values)
    return list(weights)


def _check_shapes(name: str, expected: list, given: list, path: str | pathlib.Path) -> None:
    expected = [tuple(shape) for shape in expected]
    given = [tuple(shape) for shape in given]
    if expected != given:
        first = next((i for i, (a, b) in enumerate(zip(expected, given, strict=False))
                      if a != b), min(len(expected), len(given)))
        raise ConfigError(KEY, f"{name} of {path} does not fit this configuration ("
                          f"{len(given)} weights vs {len(expected)}; first difference at "
                          f"weight {first}): make the generator and discriminator sections "
                          "those of the source network")
