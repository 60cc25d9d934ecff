"""Training checkpoints: every variable of a run, the model config beside them, resume.

A checkpoint holds, as ordered lists, every variable of G, D, G_ema (weights, buffers
such as ``w_avg`` and the noise ``SeedGenerator`` states, which Keras' own tracking
leaves out), both optimisers, and the loop's state (step, image count, ADA p and its
accumulators, path-length mean). ``tf.train.CheckpointManager`` writes the shards to
a temporary name, merges them, and only then rewrites its ``checkpoint`` index file
atomically (write to a temporary file + rename), so an interrupted write never
becomes the "latest" checkpoint.

Each run keeps its checkpoints in ``out_dir/checkpoints/<run key>/``
(:func:`run_checkpoint_dir`); the run key is a short hash of the configuration that
determines the training trajectory (:func:`trajectory_config`), so changing e.g.
``generator.hidden`` or ``train.r1_gamma`` starts a new run beside the old one while
extending ``train.kimg`` continues the same one. That configuration is also stored as
``run_config.json`` beside the checkpoints; restoring with a different one is refused
with the differing keys named (a guard against hand-moved folders).
"""

from __future__ import annotations

import hashlib
import json
import pathlib
import tempfile
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import tensorflow as tf

from sfkeras.errors import SfkerasError

if TYPE_CHECKING:
    from sfkeras.config import Config
    from sfkeras.models.generator import Generator

RUN_CONFIG_FILE = "run_config.json"

#: ``train`` fields that do not change the training trajectory: its length (a longer
#: run continues the same trajectory exactly) and run management.
RUN_MANAGEMENT_FIELDS = ("kimg", "checkpoint_kimg", "keep_checkpoints", "snapshot_kimg",
                         "metrics_kimg", "log_kimg")


class CheckpointMismatchError(SfkerasError, ValueError):
    """The checkpoint folder belongs to a run with a different configuration."""

    exit_code = 4
    kind = "checkpoint error"


def trajectory_config(config: Config) -> dict[str, Any]:
    """The configuration that determines a run's trajectory, as plain JSON values.

    The ``data``, ``generator``, ``discriminator`` and ``augment`` sections and the
    ``train`` section without :data:`RUN_MANAGEMENT_FIELDS`, ``train.init_from`` by the
    content hash of its source (a changed source starts a new run).
    """
    train = {key: value for key, value in config.train.to_dict().items()
             if key not in RUN_MANAGEMENT_FIELDS}
    if config.train.init_from is None:
        del train["init_from"]  # keeps the run keys of runs without it
    else:
        from sfkeras.training.init_from import source_digest

        train["init_from"] = source_digest(config.train.init_from)
    sections = {"data": config.data.to_dict(), "generator": config.generator.to_dict(),
                "discriminator": config.discriminator.to_dict(),
                "augment": config.augment.to_dict(), "train": train}
    return json.loads(json.dumps(sections))


def run_key(config: Config) -> str:
    """Short stable hash (12 hex digits) of :func:`trajectory_config`."""
    text = json.dumps(trajectory_config(config), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def run_checkpoint_dir(out_dir: str | pathlib.Path, config: Config) -> pathlib.Path:
    """``out_dir/checkpoints/<run key>``: the checkpoint folder of ``config``'s run."""
    return pathlib.Path(out_dir) / "checkpoints" / run_key(config)


class TrainingCheckpoint:
    """Save and restore a training run in ``directory``.

    Args:
        directory: checkpoint folder (:func:`run_checkpoint_dir`).
        groups: name -> ordered variables (Keras or TF variables). The order must be
            the same when restoring (it is, for the same architecture and config).
        run_config: the run's configuration (:func:`trajectory_config`), stored as
            JSON beside the checkpoints and compared on :meth:`restore_latest`.
        keep: checkpoints to keep.
        is_chief: whether this process owns ``directory``. Under multi-worker
            training every worker must save (saving may run collectives); the others
            write to a scratch folder that is deleted right away.
    """

    def __init__(
        self,
        directory: str | pathlib.Path,
        groups: Mapping[str, Sequence[Any]],
        run_config: Mapping[str, Any],
        *,
        keep: int,
        is_chief: bool = True,
    ):
        self.directory = pathlib.Path(directory)
        self.run_config = json.loads(json.dumps(run_config))
        self.is_chief = is_chief
        tracked = {name: [_tf_variable(v) for v in variables]
                   for name, variables in groups.items()}
        self._checkpoint = tf.train.Checkpoint(**tracked)
        self._manager = tf.train.CheckpointManager(
            self._checkpoint, str(self.directory), max_to_keep=keep)

    @property
    def latest(self) -> str | None:
        """Prefix of the newest complete checkpoint, or ``None``."""
        return self._manager.latest_checkpoint

    def restore_latest(self) -> str | None:
        """Restore the newest checkpoint (if any) after checking the run config.

        Returns:
            Its prefix, or ``None`` when the folder holds no checkpoint.

        Raises:
            CheckpointMismatchError: the stored run config differs.
        """
        latest = self.latest
        if latest is None:
            return None
        self.check_run_config()
        self._checkpoint.restore(latest).assert_existing_objects_matched()
        return latest

    def save(self, step: int) -> str | None:
        """Write checkpoint ``ckpt-<step>`` and the run config JSON (chief only).

        Returns:
            The checkpoint prefix (``None`` on non-chief workers).
        """
        if not self.is_chief:
            with tempfile.TemporaryDirectory() as scratch:
                self._checkpoint.write(str(pathlib.Path(scratch) / f"ckpt-{step}"))
            return None
        self.directory.mkdir(parents=True, exist_ok=True)
        config_path = self.directory / RUN_CONFIG_FILE
        temporary = config_path.with_suffix(".json.tmp")
        temporary.write_text(json.dumps(self.run_config, indent=2, sort_keys=True))
        temporary.replace(config_path)
        return self._manager.save(checkpoint_number=step)

    def check_run_config(self) -> None:
        """Raise :class:`CheckpointMismatchError` if the stored run config differs."""
        path = self.directory / RUN_CONFIG_FILE
        if not path.exists():
            raise CheckpointMismatchError(
                f"{self.directory} holds checkpoints but no {RUN_CONFIG_FILE}: cannot "
                "check they belong to this run; move them away to start afresh")
        stored = json.loads(path.read_text())
        differing = sorted(_differing_keys(stored, self.run_config))
        if differing:
            details = "; ".join(
                f"{key}: checkpoint {_lookup(stored, key)!r}, config "
                f"{_lookup(self.run_config, key)!r}" for key in differing)
            raise CheckpointMismatchError(
                f"refusing to resume from {self.directory}: the checkpoints were written for "
                f"a different run configuration ({details}). Restore those settings in "
                "params.yaml, or use another output folder to train from scratch")


def newest_checkpoint(run_dir: str | pathlib.Path, config: Config | None = None
                      ) -> tuple[str, dict[str, Any]]:
    """The newest checkpoint of a run folder and the configuration stored beside it.

    Args:
        run_dir: the training output folder (holding ``checkpoints/<run key>/``).
        config: whose run to read; ``None``: the most recently written checkpoint of any
            run in ``run_dir``.

    Returns:
        ``(checkpoint prefix, run config)``, the run config as :func:`trajectory_config`.

    Raises:
        FileNotFoundError: no checkpoint (of ``config``'s run, if given).
    """
    checkpoints = pathlib.Path(run_dir) / "checkpoints"
    if config is not None:
        latest = tf.train.latest_checkpoint(str(run_checkpoint_dir(run_dir, config)))
        if latest is None:
            raise FileNotFoundError(
                f"no checkpoint of this configuration's run (key {run_key(config)}) in "
                f"{checkpoints}: train first, or pass no config for the newest run")
        return latest, trajectory_config(config)
    candidates = [tf.train.latest_checkpoint(str(d)) for d in checkpoints.glob("*/")]
    candidates = [c for c in candidates if c is not None]
    if not candidates:
        raise FileNotFoundError(f"no training checkpoint in {checkpoints}")
    latest = max(candidates, key=lambda c: pathlib.Path(c + ".index").stat().st_mtime)
    return latest, json.loads((pathlib.Path(latest).parent / RUN_CONFIG_FILE).read_text())


def load_generator_from_run(run_dir: str | pathlib.Path, config: Config | None = None
                            ) -> Generator:
    """G_ema of the newest checkpoint of a training run folder.

    Args:
        run_dir: the training output folder (holding ``checkpoints/<run key>/``).
        config: the run's configuration: its run's newest checkpoint is loaded.
            ``None``: the most recently written checkpoint of any run in ``run_dir``,
            with the generator configuration stored beside it.

    Returns:
        The generator, built and holding G_ema's weights (``w_avg`` and noise
        constants included).

    Raises:
        FileNotFoundError: no checkpoint (of ``config``'s run, if given).
    """
    from sfkeras.config import GeneratorConfig
    from sfkeras.models.generator import Generator

    latest, stored = newest_checkpoint(run_dir, config)
    generator_config = GeneratorConfig.from_dict(stored["generator"], "generator")
    generator = Generator(generator_config, seed=stored["train"]["seed"], name="G_ema")
    restore_networks(latest, generator_ema=generator)
    return generator


def restore_networks(checkpoint: str, **networks) -> None:
    """Restore the variables of ``networks`` (checkpoint group name -> model, e.g.
    ``generator_ema=G``) from a training checkpoint, leaving its other groups unread.

    Raises:
        AssertionError, ValueError: a network's variables do not match the group's
            (count or shapes).
    """
    tracked = {name: [_tf_variable(v) for v in network.variables]
               for name, network in networks.items()}
    tf.train.Checkpoint(**tracked).restore(checkpoint).expect_partial() \
        .assert_existing_objects_matched()


def _tf_variable(variable):
    """The ``tf.Variable`` behind a Keras variable (or the variable itself)."""
    return getattr(variable, "value", variable) if hasattr(variable, "path") else variable


def _differing_keys(a: Any, b: Any, prefix: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        keys = []
        for key in set(a) | set(b):
            keys += _differing_keys(a.get(key), b.get(key), f"{prefix}.{key}" if prefix else key)
        return keys
    return [] if a == b else [prefix]


def _lookup(tree: Any, dotted: str) -> Any:
    for key in dotted.split("."):
        tree = tree.get(key) if isinstance(tree, dict) else None
    return tree
