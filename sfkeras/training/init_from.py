"""``train.init_from``: start a new run from trained weights (StyleGAN2-ADA's ``--resume``).

The original copies the parameters and buffers of ``G``, ``D`` and ``G_ema`` from the
pickle into freshly built networks and starts everything else afresh (optimisers,
augmentation probability, image count). :func:`initialise_from` does the same for a
:class:`~sfkeras.training.loop.Trainer` from

- a generator ``.keras`` file: G and G_ema (``w_avg`` and noise constants included);
  D keeps its initialisation;
- a training run folder: G, G_ema and D of its newest checkpoint (of any run);
- an original ``network-snapshot-*.pkl``: G, G_ema and D (read without torch).

The architecture must match the configuration's; otherwise nothing is changed and the
error names the mismatch. :func:`source_digest` is the source's part of the run key.
"""

from __future__ import annotations

import hashlib
import pathlib
from typing import Any

from sfkeras.config.base import ConfigError
from sfkeras.errors import MissingFileError

KEY = "train.init_from"


def _source(path: str | pathlib.Path) -> pathlib.Path:
    path = pathlib.Path(path)
    if not path.exists():
        raise MissingFileError(f"{KEY}: {path} not found; give a generator .keras file, a "
                               "training run folder or a network-snapshot .pkl, or null")
    return path


def _is_run_folder(path: pathlib.Path) -> bool:
    return (path / "checkpoints").is_dir()


def source_digest(path: str | pathlib.Path) -> str:
    """``sha256:<hex>`` of the source's content: the file, or the files of a run folder's
    newest checkpoint.

    Raises:
        MissingFileError: no such file or folder.
    """
    from sfkeras.training.checkpoint import newest_checkpoint

    path = _source(path)
    if _is_run_folder(path):
        prefix = pathlib.Path(newest_checkpoint(path)[0])
        files = sorted(prefix.parent.glob(prefix.name + ".*"))
    else:
        files = [path]
    digest = hashlib.sha256()
    for file in files:
        if len(files) > 1:  # a checkpoint's files by name; a single file by content only
            digest.update(file.name.encode())
        with file.open("rb") as stream:
            for chunk in iter(lambda: stream.read(1 << 20), b""):
                digest.update(chunk)
    return f"sha256:{digest.hexdigest()}"


def initialise_from(trainer: Any, path: str | pathlib.Path) -> list[str]:
    """Copy the source's networks into ``trainer`` (G, G_ema, D where present).

    Returns:
        The networks copied, e.g. ``["G", "G_ema", "D"]``.

    Raises:
        MissingFileError: no such source.
        ConfigError: a source network's weights do not fit the trainer's (other
            architecture); nothing is assigned then.
        SnapshotError, WeightImportError: an unreadable snapshot or ``.keras`` file.
    """
    path = _source(path)
    targets = {"G": trainer.generator, "G_ema": trainer.generator_ema,
               "D": trainer.discriminator}
    if _is_run_folder(path):
        return _restore_from_run(path, targets)
    if path.suffix == ".pkl":
        from sfkeras.convert.from_snapshot import networks_from_snapshot

        sources = networks_from_snapshot(path)
    else:
        from sfkeras.loading import load_generator

        generator = load_generator(path)
        sources = {"G": generator, "G_ema": generator}
    weights = {name: network.get_weights() for name, network in sources.items()}
    for name, values in weights.items():
        _check_shapes(name, [v.shape for v in targets[name].weights],
                      [v.shape for v in values], path)
    for name, values in weights.items():
        targets[name].set_weights(values)
    return list(weights)


def _restore_from_run(path: pathlib.Path, targets: dict[str, Any]) -> list[str]:
    from sfkeras.training.checkpoint import newest_checkpoint, restore_networks

    checkpoint, _ = newest_checkpoint(path)
    try:
        restore_networks(checkpoint, generator=targets["G"], generator_ema=targets["G_ema"],
                         discriminator=targets["D"])
    except (AssertionError, ValueError) as error:
        raise ConfigError(KEY, f"the networks of {checkpoint} do not fit this configuration "
                          f"({' '.join(str(error).split())[:300]}): make the generator and "
                          "discriminator sections those of the source run") from None
    return list(targets)


def _check_shapes(name: str, expected: list, given: list, path: pathlib.Path) -> None:
    expected = [tuple(shape) for shape in expected]
    given = [tuple(shape) for shape in given]
    if expected != given:
        first = next((i for i, (a, b) in enumerate(zip(expected, given, strict=False))
                      if a != b), min(len(expected), len(given)))
        raise ConfigError(KEY, f"{name} of {path} does not fit this configuration ("
                          f"{len(given)} weights vs {len(expected)}; first difference at "
                          f"weight {first}): make the generator and discriminator sections "
                          "those of the source network")
