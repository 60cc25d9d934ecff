"""Training checkpoints: every variable of a run, the model config beside them, resume.

A checkpoint holds, as ordered lists, every variable of G, D, G_ema (weights, buffers
such as ``w_avg`` and the noise ``SeedGenerator`` states, which Keras' own tracking
leaves out), both optimisers, and the loop's state (step, image count, ADA p and its
accumulators, path-length mean). ``tf.train.CheckpointManager`` writes the shards to
a temporary name, merges them, and only then rewrites its ``checkpoint`` index file
atomically (write to a temporary file + rename), so an interrupted write never
becomes the "latest" checkpoint.

Each run keeps its checkpoints in ``out_dir/checkpoints/<run key>/`` with its
configuration as ``run_config.json`` beside them (the layout, the run key and the
reading of checkpoint files are :mod:`sfkeras.saved.runs`'s); restoring with a different
configuration is refused with the differing keys named (a guard against hand-moved
folders).

Damaged checkpoints lose nothing that a readable one holds: restoring tries the
checkpoints newest first and falls back past unreadable ones (garbage or truncated
``.data``, an emptied ``.index``) with a warning naming each; an unreadable
``checkpoint`` state file is rebuilt from the ``ckpt-*.index`` files present. When no
checkpoint is readable, :class:`UnreadableCheckpointError` names the folder and the fix.
A save that fails (disk full, permissions) removes its partial files and raises
:class:`~sfkeras.errors.OutputError`; the earlier checkpoints are untouched.
"""

from __future__ import annotations

import json
import logging
import pathlib
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from typing import Any

import tensorflow as tf

from sfkeras.errors import CheckpointMismatchError, OutputError
from sfkeras.saved.runs import (
    RUN_CONFIG_FILE,
    STATE_FILE,
    indexed_on_disk,
    read_state,
    restore_newest_readable,
    tracked_variables,
    write_state,
)

logger = logging.getLogger(__name__)


class TrainingCheckpoint:
    """Save and restore a training run in ``directory``.

    Args:
        directory: checkpoint folder (:func:`~sfkeras.saved.runs.run_checkpoint_dir`).
        groups: name -> ordered variables (Keras or TF variables). The order must be
            the same when restoring (it is, for the same architecture and config).
        optional_groups: more groups, saved with the others but restored only where a
            checkpoint has them (state that checkpoints of earlier versions lack).
        run_config: the run's configuration
            (:func:`~sfkeras.saved.runs.trajectory_config`), stored as JSON beside the
            checkpoints and compared on :meth:`restore_latest`.
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
        optional_groups: Mapping[str, Sequence[Any]] | None = None,
    ):
        self.directory = pathlib.Path(directory)
        self.run_config = json.loads(json.dumps(run_config))
        self.is_chief = is_chief
        self.keep = keep
        tracked = {name: tracked_variables(variables) for name, variables in groups.items()}
        optional = {name: tracked_variables(variables)
                    for name, variables in (optional_groups or {}).items()}
        self._checkpoint = tf.train.Checkpoint(**tracked, **optional)  # what is saved
        self._required = tf.train.Checkpoint(**tracked)
        self._optional = tf.train.Checkpoint(**optional)
        if read_state(self.directory) is None and indexed_on_disk(self.directory):
            logger.warning("%s is unreadable or missing: rebuilding it from the checkpoints "
                           "in %s", self.directory / STATE_FILE, self.directory)
            write_state(self.directory, indexed_on_disk(self.directory))
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
        # The file also holds the optional groups, restored next: partial, so that
        # TensorFlow does not warn of their values as unrestored.
        restored = restore_newest_readable(self._required, prefixes, self.directory,
                                           partial=True)
        self._optional.restore(restored).expect_partial()
        if restored != prefixes[-1] and self.is_chief:
            write_state(self.directory, prefixes[:prefixes.index(restored) + 1])
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
