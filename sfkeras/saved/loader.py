"""The one loader of networks, from every kind of source sfkeras knows.

:func:`source_kind` tells the sources apart, in one place:

- ``keras``: a ``.keras`` file of a sfkeras generator (``data/train/G_ema.keras``,
  ``sfkeras import-weights`` output);
- ``run``: a training run folder (it has ``checkpoints/``): the newest checkpoint of the
  given configuration's run, or of the most recently saved run;
- ``snapshot``: an original ``network-snapshot-*.pkl`` (read without torch);
- ``saved_model``: a SavedModel folder of :mod:`sfkeras.export`, which holds signatures,
  not a Keras model, and is read as an :class:`ExportedGenerator`.

:func:`load_generator` gives a generator (G_ema) of any of them, :func:`load_networks`
all the networks a source holds (``train.init_from``). Every command that takes a
network (``evaluate``, ``render``, ``generate``, ``project``, ``export``) and training's
``init_from`` come through here.
"""

from __future__ import annotations

import json
import pathlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from sfkeras.backend import require_tensorflow
from sfkeras.config import GeneratorConfig
from sfkeras.errors import MissingFileError, WeightImportError

if TYPE_CHECKING:
    from sfkeras.config import Config

SourceKind = Literal["keras", "run", "snapshot", "saved_model"]

#: Where an exported SavedModel keeps its generator's hyper-parameters (JSON).
SAVED_MODEL_CONFIG = pathlib.Path("assets.extra") / "generator.json"

#: The sources, as error messages list them.
SOURCES = ("a .keras file, a training run folder, a network-snapshot .pkl, or an exported "
           "SavedModel folder")


def check_exists(path: str | pathlib.Path, what: str = "generator") -> pathlib.Path:
    """``path`` as a Path, or :class:`MissingFileError` naming it and the fix."""
    path = pathlib.Path(path)
    if not path.exists():
        hint = f"; pass {SOURCES} (the train stage writes data/train/G_ema.keras: " \
            "dvc repro train)" if what == "generator" else ""
        raise MissingFileError(f"{path}: {what} not found{hint}")
    return path


def source_kind(path: str | pathlib.Path) -> SourceKind:
    """Which kind of network source ``path`` is.

    Raises:
        MissingFileError: ``path`` does not exist.
        WeightImportError: it is none of the known sources.
    """
    path = check_exists(path)
    if (path / "saved_model.pb").is_file():
        return "saved_model"
    if (path / "checkpoints").is_dir():
        return "run"
    if path.is_file() and path.suffix == ".pkl":
        return "snapshot"
    if path.is_file() and path.suffix == ".keras":
        return "keras"
    raise WeightImportError(f"{path}: expected {SOURCES}")


def load_generator(source: str | pathlib.Path, config: Config | None = None, *,
                   saved_model: bool = False):
    """G_ema of ``source`` as a :class:`~sfkeras.models.Generator`.

    Args:
        source: see the module docstring.
        config: for a run folder, the configuration whose run to read (``None``: the
            most recently saved run).
        saved_model: accept a SavedModel folder too, returned as :class:`ExportedGenerator`.

    Raises:
        MissingFileError: ``source`` does not exist (or a run folder has no checkpoint).
        WeightImportError: ``source`` is none of the known sources, or holds something
            other than a sfkeras generator.
        SnapshotError, UnreadableCheckpointError: an unreadable snapshot or run.
    """
    kind = source_kind(source)
    path = pathlib.Path(source)
    if kind == "saved_model":
        if not saved_model:
            raise WeightImportError(f"{path} is a SavedModel, which holds signatures, not a "
                                    "Keras generator: use the G_ema.keras beside it")
        return ExportedGenerator(path)
    if kind == "run":
        return _networks_of_run(path, config, ("G_ema",))["G_ema"]
    if kind == "snapshot":
        from sfkeras.convert.from_snapshot import generator_from_snapshot

        return generator_from_snapshot(path)
    return _load_keras_generator(path)


def load_networks(source: str | pathlib.Path) -> dict[str, Any]:
    """Every network ``source`` holds, by the original's names.

    A ``.keras`` generator gives ``G`` and ``G_ema`` (the same model); a run folder
    ``G``, ``G_ema`` and ``D`` of its newest checkpoint (of the most recently saved run);
    a snapshot ``G_ema``, ``G`` and ``D`` (those it holds).

    Raises:
        as :func:`load_generator`; a SavedModel is refused (it holds no weights to copy).
    """
    kind = source_kind(source)
    path = pathlib.Path(source)
    if kind == "run":
        return _networks_of_run(path, None, ("G", "G_ema", "D"))
    if kind == "snapshot":
        from sfkeras.convert.from_snapshot import networks_from_snapshot

        return networks_from_snapshot(path)
    generator = load_generator(path)
    return {"G": generator, "G_ema": generator}


#: Checkpoint groups of the networks (:meth:`sfkeras.training.trainer.Trainer.checkpoint_groups`).
CHECKPOINT_GROUPS = {"G": "generator", "G_ema": "generator_ema", "D": "discriminator"}


def _networks_of_run(path: pathlib.Path, config: Config | None,
                     names: tuple[str, ...]) -> dict[str, Any]:
    """The networks ``names`` of a run folder's newest readable checkpoint."""
    import tensorflow as tf

    from sfkeras.config import DiscriminatorConfig, GeneratorConfig
    from sfkeras.models import Discriminator, Generator
    from sfkeras.saved.runs import newest_run, restore_newest_readable, tracked_variables

    require_tensorflow(f"reading the training run {path}")
    run = newest_run(path, config)
    generator_config = GeneratorConfig.from_dict(run.run_config["generator"], "generator")
    seed = run.run_config["train"]["seed"]
    networks = {}
    for name in names:
        if name == "D":
            networks[name] = Discriminator(
                generator_config.resolution,
                DiscriminatorConfig.from_dict(run.run_config["discriminator"], "discriminator"),
                img_channels=generator_config.img_channels, c_dim=generator_config.c_dim,
                name="D")
            networks[name].build((None, generator_config.resolution,
                                  generator_config.resolution, generator_config.img_channels))
        else:
            networks[name] = Generator(generator_config, seed=seed, name=name)
    groups = {CHECKPOINT_GROUPS[name]: tracked_variables(network.variables)
              for name, network in networks.items()}
    restore_newest_readable(tf.train.Checkpoint(**groups), run.prefixes, run.directory,
                            partial=True)
    return networks


def _load_keras_generator(path: pathlib.Path):
    import keras

    from sfkeras.models import Generator

    model = keras.saving.load_model(path, compile=False)
    if not isinstance(model, Generator):
        raise WeightImportError(f"{path} holds a {type(model).__name__}, not a sfkeras "
                                "Generator: pass a generator's .keras file (G_ema.keras)")
    return model


class ExportedGenerator:
    """The one reader of an exported SavedModel (:mod:`sfkeras.export`).

    Whichever of its signatures the folder has are used: ``mapping`` (``z,
    truncation_psi -> ws``) and ``synthesis`` (``ws -> uint8 images``) for rendering,
    ``generate`` (``z, truncation_psi -> uint8 images``) or else ``serving_default``
    (``z -> images``) for evaluation. Constant noise throughout. A conditional
    generator's signatures also take one-hot labels ``c [N, c_dim]``.

    Attributes:
        path: the folder.
        z_dim: latent size.
        c_dim: classes (0: unconditional).
    """

    def __init__(self, path: str | pathlib.Path):
        require_tensorflow(f"loading the SavedModel {path}")
        import tensorflow as tf

        self.path = pathlib.Path(path)
        self._loaded = tf.saved_model.load(str(self.path))
        self._signatures = dict(self._loaded.signatures)
        name = self._generate_name()
        self.z_dim = int(self._z_input(name)[1].shape[1])
        labels = dict(self._signature(name).structured_input_signature[1]).get("c")
        self.c_dim = 0 if labels is None else int(labels.shape[1])

    def _signature(self, name: str):
        if name not in self._signatures:
            raise WeightImportError(f"{self.path}: the SavedModel lacks the '{name}' signature "
                                    "of sfkeras export; export it again")
        return self._signatures[name]

    def _generate_name(self) -> str:
        for name in ("generate", "serving_default", "mapping"):
            if name in self._signatures:
                return name
        raise WeightImportError(f"{self.path}: the SavedModel has none of the 'generate', "
                                "'serving_default' and 'mapping' signatures of sfkeras export")

    def _z_input(self, name: str):
        inputs = dict(self._signature(name).structured_input_signature[1])
        z_names = [key for key in inputs if key not in ("truncation_psi", "c")]
        if len(z_names) != 1 or inputs[z_names[0]].shape.rank != 2:
            raise WeightImportError(f"{self.path}: signature '{name}' must take one latent "
                                    f"input [N, z_dim], got {inputs}")
        return z_names[0], inputs[z_names[0]]

    @property
    def config(self) -> GeneratorConfig | None:
        """The generator's hyper-parameters (:data:`SAVED_MODEL_CONFIG`), or ``None``
        for an export without them."""
        path = self.path / SAVED_MODEL_CONFIG
        return GeneratorConfig.from_dict(json.loads(path.read_text())) if path.is_file() else None

    @property
    def num_ws(self) -> int:
        return int(self._signature("synthesis").structured_input_signature[1]["ws"].shape[1])

    @property
    def w_dim(self) -> int:
        return int(self._signature("synthesis").structured_input_signature[1]["ws"].shape[2])

    def _labels(self, c) -> dict:
        """The ``c`` input of a conditional generator's signatures (``{}`` otherwise)."""
        import tensorflow as tf

        if not self.c_dim:
            return {}
        if c is None:
            raise ValueError(f"{self.path} is a conditional generator (c_dim={self.c_dim}): "
                             f"pass c, one-hot class labels [N, {self.c_dim}]")
        return {"c": tf.constant(c, tf.float32)}

    def mapping(self, z, c=None, truncation_psi: float = 1.0):
        """``z [N, z_dim]`` (and ``c [N, c_dim]``) ``-> ws [N, num_ws, w_dim]`` float32."""
        import tensorflow as tf

        return self._signature("mapping")(
            z=tf.constant(z, tf.float32), **self._labels(c),
            truncation_psi=tf.constant(truncation_psi, tf.float32))["ws"]

    def images(self, ws) -> np.ndarray:
        """``ws -> uint8 images [N, H, W, C]`` (constant noise)."""
        import tensorflow as tf

        return self._signature("synthesis")(ws=tf.constant(ws, tf.float32))["images"].numpy()

    def generate_fn(self, truncation_psi: float = 1.0) -> Callable[..., np.ndarray]:
        """``z [N, z_dim]`` (and ``c [N, c_dim]``) ``-> uint8 images [N, H, W, C]``
        through ``generate`` (or ``serving_default``, which runs with the exported
        truncation: only 1 is accepted).

        Raises:
            WeightImportError: the signature cannot apply ``truncation_psi``, or does not
                return images.
        """
        import tensorflow as tf

        name = "generate" if "generate" in self._signatures else "serving_default"
        signature = self._signature(name)
        z_name, _ = self._z_input(name)
        psi = {}
        if "truncation_psi" in signature.structured_input_signature[1]:
            psi["truncation_psi"] = tf.constant(truncation_psi, tf.float32)
        elif truncation_psi != 1.0:
            raise WeightImportError(
                f"{self.path}: signature '{name}' has no 'truncation_psi' input, so it runs "
                f"as exported; cannot apply truncation_psi={truncation_psi}")
        outputs = list(signature.structured_outputs)
        output = "images" if "images" in outputs else outputs[0]
        if len(outputs) != 1 and output != "images":
            raise WeightImportError(f"{self.path}: signature '{name}' must return 'images', "
                                    f"got {outputs}")

        def generate(z: np.ndarray, c: np.ndarray | None = None) -> np.ndarray:
            return signature(**{z_name: tf.constant(z, tf.float32)}, **self._labels(c),
                             **psi)[output].numpy()

        return generate
