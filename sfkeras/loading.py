"""The one loader of a generator, from any source the project knows.

``load_generator`` gives the Keras :class:`~sfkeras.models.Generator` (G_ema) of

- a ``.keras`` file (``data/train/G_ema.keras``, ``sfkeras import-weights`` output);
- a training run folder (its ``checkpoints/``: the newest checkpoint of the given
  configuration's run, or of any run without one);
- an original network snapshot ``network-snapshot-*.pkl`` (read without torch).

A SavedModel folder (:mod:`sfkeras.export`) holds signatures, not a Keras model: with
``saved_model=True`` it is returned as an :class:`ExportedGenerator` (mapping and
synthesis with constant noise, uint8 images); the evaluator reads it through
:func:`sfkeras.metrics.generator_fn.load_generator_fn`.
"""

from __future__ import annotations

import pathlib

from sfkeras.convert.common import WeightImportError
from sfkeras.errors import MissingFileError

#: The sources, as error messages list them.
SOURCES = "a .keras file, a training run folder, or a network-snapshot .pkl"


def is_saved_model(path: str | pathlib.Path) -> bool:
    """Whether ``path`` is a SavedModel folder."""
    return (pathlib.Path(path) / "saved_model.pb").is_file()


def check_exists(path: str | pathlib.Path, what: str = "generator") -> pathlib.Path:
    """``path`` as a Path, or :class:`MissingFileError` naming it and the fix."""
    path = pathlib.Path(path)
    if not path.exists():
        raise MissingFileError(f"{path}: {what} not found; pass {SOURCES} (the train stage "
                               "writes data/train/G_ema.keras: dvc repro train)")
    return path


class ExportedGenerator:
    """The ``mapping`` and ``synthesis`` signatures of an exported SavedModel.

    Attributes:
        z_dim, num_ws, w_dim: as the generator's.
    """

    def __init__(self, path: pathlib.Path):
        import tensorflow as tf

        loaded = tf.saved_model.load(str(path))
        missing = {"mapping", "synthesis"} - set(loaded.signatures)
        if missing:
            raise WeightImportError(f"{path}: the SavedModel lacks the {sorted(missing)} "
                                    "signatures of sfkeras export; export it again")
        self._mapping = loaded.signatures["mapping"]
        self._synthesis = loaded.signatures["synthesis"]
        ws_shape = self._synthesis.structured_input_signature[1]["ws"].shape
        self.num_ws, self.w_dim = int(ws_shape[1]), int(ws_shape[2])
        self.z_dim = int(self._mapping.structured_input_signature[1]["z"].shape[1])

    def mapping(self, z, truncation_psi: float = 1.0):
        """``z [N, z_dim] -> ws [N, num_ws, w_dim]`` float32."""
        import tensorflow as tf

        return self._mapping(z=tf.constant(z, tf.float32),
                             truncation_psi=tf.constant(truncation_psi, tf.float32))["ws"]

    def images(self, ws):
        """``ws -> uint8 images [N, H, W, C]`` (constant noise)."""
        import tensorflow as tf

        return self._synthesis(ws=tf.constant(ws, tf.float32))["images"].numpy()


def load_generator(source: str | pathlib.Path, config=None, *, saved_model: bool = False):
    """G_ema of ``source`` as a :class:`~sfkeras.models.Generator`.

    Args:
        source: see the module docstring.
        config: for a run folder, the :class:`~sfkeras.config.Config` whose run to read
            (``None``: the most recently written run).
        saved_model: accept a SavedModel folder too, returned as :class:`ExportedGenerator`.

    Raises:
        MissingFileError: ``source`` does not exist.
        WeightImportError: ``source`` is none of the known sources, or holds something
            other than a sfkeras generator.
        SnapshotError: an unreadable or refused snapshot.
    """
    path = check_exists(source)
    if saved_model and is_saved_model(path):
        return ExportedGenerator(path)
    if (path / "checkpoints").is_dir():
        from sfkeras.training.checkpoint import load_generator_from_run

        return load_generator_from_run(path, config)
    if path.suffix == ".pkl" and path.is_file():
        from sfkeras.convert.from_snapshot import generator_from_snapshot

        return generator_from_snapshot(path)
    if path.suffix == ".keras" and path.is_file():
        return _load_keras_generator(path)
    hint = " (a SavedModel: use its G_ema.keras copy)" if is_saved_model(path) else ""
    raise WeightImportError(f"{path}: expected {SOURCES}{hint}")


def _load_keras_generator(path: pathlib.Path):
    import keras

    from sfkeras.models import Generator

    model = keras.saving.load_model(path, compile=False)
    if not isinstance(model, Generator):
        raise WeightImportError(f"{path} holds a {type(model).__name__}, not a sfkeras "
                                "Generator: pass a generator's .keras file (G_ema.keras)")
    return model
