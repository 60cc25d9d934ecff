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

Damaged checkpoints lose nothing that a readable one holds: restoring tries the
checkpoints newest first and falls back past unreadable ones (garbage or truncated
``.data``, an emptied ``.index``) with a warning naming each; an unreadable
``checkpoint`` state file is rebuilt from the ``ckpt-*.index`` files present. When no
checkpoint is readable, :class:`UnreadableCheckpointError` names the folder and the fix.
A save that fails (disk full, permissions) removes its partial files and raises
:class:`~sfkeras.errors.OutputError`; the earlier checkpoints are untouched.
"""

from __future__ import annotations

import hashlib
import json
import logging
import pathlib
import re
import shutil
import tempfile
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import tensorflow as tf

from sfkeras.errors import OutputError, SfkerasError

if TYPE_CHECKING:
    from sfkeras.config import Config
    from sfkeras.models.generator import Generator

logger = logging.getLogger(__name__)

RUN_CONFIG_FILE = "run_config.json"
STATE_FILE = "checkpoint"

#: ``train`` fields that do not change the training trajectory: its length (a longer
#: run continues the same trajectory exactly) and run management.
RUN_MANAGEMENT_FIELDS = ("kimg", "checkpoint_kimg", "keep_checkpoints", "snapshot_kimg",
                         "metrics_kimg", "log_kimg", "divergence_loss", "divergence_steps")


class CheckpointError(SfkerasError):
    """A checkpoint cannot be used to resume or to load a generator."""

    exit_code = 4
    kind = "checkpoint error"


class CheckpointMismatchError(CheckpointError, ValueError):
    """The checkpoint folder belongs to a run with a different configuration."""


class UnreadableCheckpointError(CheckpointError, RuntimeError):
    """No checkpoint of a folder can be read."""


#: What reading a damaged checkpoint raises: TensorFlow's DataLossError and OpError
#: (checksums, short index files), IndexError ("Read less bytes than requested") from
#: truncated data, UnicodeDecodeError / ValueError, and assertion errors of objects
#: left unmatched by a garbled index.
_UNREADABLE = (tf.errors.OpError, LookupError, ValueError, AssertionError)


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
        self.keep = keep
        tracked = {name: [_tf_variable(v) for v in variables]
                   for name, variables in groups.items()}
        self._checkpoint = tf.train.Checkpoint(**tracked)
        if _read_state(self.directory) is None and _indexed_on_disk(self.directory):
            logger.warning("%s is unreadable or missing: rebuilding it from the checkpoints "
                           "in %s", self.directory / STATE_FILE, self.directory)
            _write_state(self.directory, _indexed_on_disk(self.directory))
        self._manager = self._new_manager()

    def _new_manager(self) -> tf.train.CheckpointManager:
        return tf.train.CheckpointManager(self._checkpoint, str(self.directory),
                                          max_to_keep=self.keep)

    @property
    def latest(self) -> str | None:
        """Prefix of the newest complete checkpoint, or ``None``."""
        return self._manager.latest_checkpoint

    def restore_latest(self) -> str | None:
        """Restore the newest readable checkpoint (if any) after checking the run config.

        Unreadable newer checkpoints are skipped with a warning and dropped from the
        ``checkpoint`` state file, so that the next save continues from the restored one.

        Returns:
            Its prefix, or ``None`` when the folder holds no checkpoint.

        Raises:
            CheckpointMismatchError: the stored run config differs.
            UnreadableCheckpointError: no checkpoint can be read.
        """
        prefixes = self._manager.checkpoints
        if not prefixes:
            return None
        self.check_run_config()
        restored = restore_newest_readable(self._checkpoint, prefixes, self.directory)
        if restored != prefixes[-1] and self.is_chief:
            _write_state(self.directory, prefixes[:prefixes.index(restored) + 1])
            self._manager = self._new_manager()
        return restored

    def save(self, step: int) -> str | None:
        """Write checkpoint ``ckpt-<step>`` and the run config JSON (chief only).

        Returns:
            The checkpoint prefix (``None`` on non-chief workers).
        """
        if not self.is_chief:
            with tempfile.TemporaryDirectory() as scratch:
                self._checkpoint.write(str(pathlib.Path(scratch) / f"ckpt-{step}"))
            return None
        config_path = self.directory / RUN_CONFIG_FILE
        temporary = config_path.with_suffix(".json.tmp")
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            temporary.write_text(json.dumps(self.run_config, indent=2, sort_keys=True))
            temporary.replace(config_path)
            return self._manager.save(checkpoint_number=step)
        except (OSError, tf.errors.OpError) as error:
            self._remove_partial_save(step)
            temporary.unlink(missing_ok=True)
            reason = getattr(error, "strerror", None) or getattr(error, "message", str(error))
            raise OutputError(
                f"cannot write checkpoint {self.directory / f'ckpt-{step}'}: "
                f"{reason.splitlines()[0]}. The earlier checkpoints are untouched; free disk "
                f"space or make {self.directory} writable, then resume") from error

    def _remove_partial_save(self, step: int) -> None:
        """Delete what a failed :meth:`save` of ``ckpt-<step>`` left (if not indexed)."""
        prefix = self.directory / f"ckpt-{step}"
        shutil.rmtree(f"{prefix}_temp", ignore_errors=True)
        if str(prefix) not in self._manager.checkpoints:
            for path in self.directory.glob(f"ckpt-{step}.*"):
                path.unlink(missing_ok=True)
        for path in self.directory.glob(f"{STATE_FILE}.tmp*"):
            path.unlink(missing_ok=True)

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
        prefixes = checkpoint_prefixes(run_checkpoint_dir(run_dir, config))
        latest = prefixes[-1] if prefixes else None
        if latest is None:
            raise FileNotFoundError(
                f"no checkpoint of this configuration's run (key {run_key(config)}) in "
                f"{checkpoints}: train first, or pass no config for the newest run")
        return latest, trajectory_config(config)
    candidates = [prefixes[-1] for d in checkpoints.glob("*/")
                  if (prefixes := checkpoint_prefixes(d))]
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
        UnreadableCheckpointError: none of the run's checkpoints can be read (an
            unreadable newest one is skipped with a warning).
    """
    from sfkeras.config import GeneratorConfig
    from sfkeras.models.generator import Generator

    checkpoints = pathlib.Path(run_dir) / "checkpoints"
    if config is not None:
        directory = run_checkpoint_dir(run_dir, config)
        if not checkpoint_prefixes(directory):
            raise FileNotFoundError(
                f"no checkpoint of this configuration's run (key {run_key(config)}) in "
                f"{checkpoints}: train first, or pass no config for the newest run")
        generator_config, seed = config.generator, config.train.seed
    else:
        runs = [d for d in checkpoints.glob("*/") if checkpoint_prefixes(d)]
        if not runs:
            raise FileNotFoundError(f"no training checkpoint in {checkpoints}")
        directory = max(runs, key=lambda d: pathlib.Path(
            checkpoint_prefixes(d)[-1] + ".index").stat().st_mtime)
        stored = json.loads((directory / RUN_CONFIG_FILE).read_text())
        generator_config = GeneratorConfig.from_dict(stored["generator"], "generator")
        seed = stored["train"]["seed"]
    generator = Generator(generator_config, seed=seed, name="G_ema")
    tracked = [_tf_variable(v) for v in generator.variables]
    restore_newest_readable(tf.train.Checkpoint(generator_ema=tracked),
                            checkpoint_prefixes(directory), directory, partial=True)
    return generator


def checkpoint_prefixes(directory: str | pathlib.Path) -> list[str]:
    """The checkpoints of ``directory``, oldest first, as prefixes (``.../ckpt-N``).

    Those listed in the ``checkpoint`` state file or, when it is missing or
    unreadable, every ``ckpt-N.index`` present (ordered by N).
    """
    directory = pathlib.Path(directory)
    state = _read_state(directory)
    if state is None:
        return _indexed_on_disk(directory)
    return [str(directory / pathlib.Path(path).name) for path in state]


def restore_newest_readable(checkpoint: tf.train.Checkpoint, prefixes: Sequence[str],
                            directory: pathlib.Path, *, partial: bool = False) -> str:
    """Restore the newest of ``prefixes`` (oldest first) that reads, warning of the others.

    Args:
        checkpoint: what to restore.
        prefixes: candidate checkpoints, oldest first (:func:`checkpoint_prefixes`).
        directory: their folder, for the error message.
        partial: ``checkpoint`` holds only part of what was saved (e.g. G_ema).

    Returns:
        The restored prefix.

    Raises:
        UnreadableCheckpointError: none can be read.
    """
    for prefix in reversed(prefixes):
        try:
            status = checkpoint.restore(prefix)
            (status.expect_partial() if partial else status).assert_existing_objects_matched()
        except _UNREADABLE as error:
            message = str(error).strip().splitlines()[0][:200] if str(error).strip() \
                else type(error).__name__
            logger.warning("checkpoint %s is unreadable (%s); trying the one before it",
                           prefix, message)
            continue
        return prefix
    raise UnreadableCheckpointError(
        f"none of the {len(prefixes)} checkpoints in {directory} can be read: move the "
        "folder away to train from scratch, or restore it from a backup")


def _read_state(directory: pathlib.Path) -> list[str] | None:
    """Checkpoint paths (oldest first) listed in the state file; ``None`` if it is
    missing or unreadable (TensorFlow raises on binary garbage, returns ``None`` on
    text it cannot parse)."""
    try:
        state = tf.train.get_checkpoint_state(str(directory))
    except (tf.errors.OpError, ValueError):
        return None
    if state is None or not state.all_model_checkpoint_paths:
        return None
    return list(state.all_model_checkpoint_paths)


def _indexed_on_disk(directory: pathlib.Path) -> list[str]:
    """Prefixes of the ``ckpt-N.index`` files in ``directory``, by increasing N."""
    numbers = sorted(int(match.group(1)) for path in directory.glob("ckpt-*.index")
                     if (match := re.fullmatch(r"ckpt-(\d+)\.index", path.name)))
    return [str(directory / f"ckpt-{number}") for number in numbers]


def _write_state(directory: pathlib.Path, prefixes: Sequence[str]) -> None:
    """Rewrite the state file (atomically) to list ``prefixes``, the last as latest.

    The text format of ``tf.train.CheckpointManager``, with each checkpoint's time the
    modification time of its index (the manager only manages checkpoints newer than
    ``last_preserved_timestamp``, which is set just before the oldest).
    """
    times = [_index_time(prefix) for prefix in prefixes]
    lines = [f'model_checkpoint_path: "{pathlib.Path(prefixes[-1]).name}"']
    lines += [f'all_model_checkpoint_paths: "{pathlib.Path(p).name}"' for p in prefixes]
    lines += [f"all_model_checkpoint_timestamps: {time!r}" for time in times]
    lines.append(f"last_preserved_timestamp: {min(times) - 1.0!r}")
    temporary = directory / f"{STATE_FILE}.tmp-rebuild"
    temporary.write_text("\n".join(lines) + "\n")
    temporary.replace(directory / STATE_FILE)


def _index_time(prefix: str) -> float:
    index = pathlib.Path(prefix + ".index")
    return index.stat().st_mtime if index.exists() else time.time()


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
