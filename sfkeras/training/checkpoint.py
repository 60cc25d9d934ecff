"""Training checkpoints: every variable of a run, the model config beside them, resume.

A checkpoint holds, as ordered lists, every variable of G, D, G_ema (weights, buffers
such as ``w_avg`` and the noise ``SeedGenerator`` states, which Keras' own tracking
leaves out), both optimisers, and the loop's state (step, image count, ADA p and its
accumulators, path-length mean). ``tf.train.CheckpointManager`` writes the shards to
a temporary name, merges them, and only then rewrites its ``checkpoint`` index file
atomically (write to a temporary file + rename), so an interrupted write never
becomes the "latest" checkpoint.

The model-defining configuration (``generator`` and ``discriminator`` sections) is
stored as ``model_config.json`` beside the checkpoints; resuming with a different
one is refused with the differing keys named.
"""

from __future__ import annotations

import json
import pathlib
import tempfile
from collections.abc import Mapping, Sequence
from typing import Any

import tensorflow as tf

MODEL_CONFIG_FILE = "model_config.json"


class CheckpointMismatchError(ValueError):
    """The checkpoint folder belongs to a run with a different model configuration."""


class TrainingCheckpoint:
    """Save and restore a training run in ``directory``.

    Args:
        directory: checkpoint folder (``out_dir/checkpoints``).
        groups: name -> ordered variables (Keras or TF variables). The order must be
            the same when restoring (it is, for the same architecture and config).
        model_config: the model-defining configuration, stored as JSON beside the
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
        model_config: Mapping[str, Any],
        *,
        keep: int,
        is_chief: bool = True,
    ):
        self.directory = pathlib.Path(directory)
        self.model_config = json.loads(json.dumps(model_config))
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
        """Restore the newest checkpoint (if any) after checking the model config.

        Returns:
            Its prefix, or ``None`` when the folder holds no checkpoint.

        Raises:
            CheckpointMismatchError: the stored model config differs.
        """
        latest = self.latest
        if latest is None:
            return None
        self.check_model_config()
        self._checkpoint.restore(latest).assert_existing_objects_matched()
        return latest

    def save(self, step: int) -> str | None:
        """Write checkpoint ``ckpt-<step>`` and the model config JSON (chief only).

        Returns:
            The checkpoint prefix (``None`` on non-chief workers).
        """
        if not self.is_chief:
            with tempfile.TemporaryDirectory() as scratch:
                self._checkpoint.write(str(pathlib.Path(scratch) / f"ckpt-{step}"))
            return None
        self.directory.mkdir(parents=True, exist_ok=True)
        config_path = self.directory / MODEL_CONFIG_FILE
        temporary = config_path.with_suffix(".json.tmp")
        temporary.write_text(json.dumps(self.model_config, indent=2, sort_keys=True))
        temporary.replace(config_path)
        return self._manager.save(checkpoint_number=step)

    def check_model_config(self) -> None:
        """Raise :class:`CheckpointMismatchError` if the stored model config differs."""
        path = self.directory / MODEL_CONFIG_FILE
        if not path.exists():
            raise CheckpointMismatchError(
                f"{self.directory} holds checkpoints but no {MODEL_CONFIG_FILE}: cannot "
                "check they belong to this model; move them away to start afresh")
        stored = json.loads(path.read_text())
        differing = sorted(_differing_keys(stored, self.model_config))
        if differing:
            details = "; ".join(
                f"{key}: checkpoint {_lookup(stored, key)!r}, config "
                f"{_lookup(self.model_config, key)!r}" for key in differing)
            raise CheckpointMismatchError(
                f"refusing to resume from {self.directory}: the checkpoints were written for "
                f"a different model ({details}). Restore those settings in params.yaml, or "
                "use another output folder to train this model from scratch")


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
