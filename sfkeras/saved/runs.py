"""A training run folder: its run key, its checkpoint files, and its newest run.

``sfkeras train --out RUN`` writes ``RUN/checkpoints/<run key>/`` per run, where the run
key is a short hash of the configuration that determines the training trajectory
(:func:`trajectory_config`): changing e.g. ``generator.hidden`` or ``train.r1_gamma``
starts a new run beside the old one, while extending ``train.kimg`` continues the same
one. Beside the checkpoints lies ``run_config.json``, that configuration as JSON.

The checkpoint files are ``tf.train.CheckpointManager``'s: ``ckpt-N.index`` and
``.data`` shards and a ``checkpoint`` state file listing them. Reading them here is
robust to damage: :func:`checkpoint_prefixes` falls back to the index files on disk
when the state file is unreadable, and :func:`restore_newest_readable` tries the
checkpoints newest first, warning of each unreadable one.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import logging
import pathlib
import re
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import tensorflow as tf

from sfkeras.errors import MissingFileError, UnreadableCheckpointError

if TYPE_CHECKING:
    from sfkeras.config import Config

logger = logging.getLogger(__name__)

RUN_CONFIG_FILE = "run_config.json"
STATE_FILE = "checkpoint"

#: ``train`` fields that do not change the training trajectory: its length (a longer
#: run continues the same trajectory exactly) and run management.
RUN_MANAGEMENT_FIELDS = ("kimg", "checkpoint_kimg", "keep_checkpoints", "keep_snapshots",
                         "snapshot_kimg", "metrics_kimg", "log_kimg", "divergence_loss",
                         "divergence_steps")

#: Fields added after the first runs were keyed (the paper's ablation variants,
#: conditioning, Freeze-D), by section, at the value every earlier run had: a run key
#: includes such a field only where it differs, so earlier runs keep their keys.
KEYED_WHEN_CHANGED = {"generator.layer_norm": "pre", "generator.demodulate_qk": True,
                      "generator.c_dim": 0, "data.shapes.labels": None, "train.freeze_d": 0}

#: What reading a damaged checkpoint raises: TensorFlow's DataLossError and OpError
#: (checksums, short index files), IndexError ("Read less bytes than requested") from
#: truncated data, UnicodeDecodeError / ValueError, and assertion errors of objects
#: left unmatched by a garbled index.
_UNREADABLE = (tf.errors.OpError, LookupError, ValueError, AssertionError)


def trajectory_config(config: Config) -> dict[str, Any]:
    """The configuration that determines a run's trajectory, as plain JSON values.

    The ``data``, ``generator``, ``discriminator`` and ``augment`` sections and the
    ``train`` section without :data:`RUN_MANAGEMENT_FIELDS`, ``train.init_from`` by the
    content hash of its source (a changed source starts a new run); the fields of
    :data:`KEYED_WHEN_CHANGED` only where they differ from their earlier value.
    """
    train = {key: value for key, value in config.train.to_dict().items()
             if key not in RUN_MANAGEMENT_FIELDS}
    if config.train.init_from is None:
        del train["init_from"]  # keeps the run keys of runs without it
    else:
        train["init_from"] = source_digest(config.train.init_from)
    sections = {"data": config.data.to_dict(), "generator": config.generator.to_dict(),
                "discriminator": config.discriminator.to_dict(),
                "augment": config.augment.to_dict(), "train": train}
    for path, earlier in KEYED_WHEN_CHANGED.items():
        *parents, key = path.split(".")
        values = functools.reduce(dict.__getitem__, parents, sections)
        if values[key] == earlier:
            del values[key]
    return json.loads(json.dumps(sections))


def run_key(config: Config) -> str:
    """Short stable hash (12 hex digits) of :func:`trajectory_config`."""
    text = json.dumps(trajectory_config(config), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def run_checkpoint_dir(out_dir: str | pathlib.Path, config: Config) -> pathlib.Path:
    """``out_dir/checkpoints/<run key>``: the checkpoint folder of ``config``'s run."""
    return pathlib.Path(out_dir) / "checkpoints" / run_key(config)


def is_run_folder(path: str | pathlib.Path) -> bool:
    """Whether ``path`` is a training run folder (it has ``checkpoints/``)."""
    return (pathlib.Path(path) / "checkpoints").is_dir()


@dataclasses.dataclass(frozen=True)
class Run:
    """One run of a run folder: its checkpoint folder and stored configuration.

    Attributes:
        directory: ``<run folder>/checkpoints/<run key>``.
        prefixes: its checkpoints, oldest first (:func:`checkpoint_prefixes`).
        run_config: ``run_config.json`` (:func:`trajectory_config` of its configuration).
    """

    directory: pathlib.Path
    prefixes: list[str]
    run_config: dict[str, Any]


def newest_run(run_folder: str | pathlib.Path, config: Config | None = None) -> Run:
    """The run of ``config`` in ``run_folder``, or (``None``) its most recently saved run.

    Raises:
        MissingFileError: no checkpoint (of ``config``'s run, if given).
    """
    checkpoints = pathlib.Path(run_folder) / "checkpoints"
    if config is not None:
        directory = run_checkpoint_dir(run_folder, config)
        if not checkpoint_prefixes(directory):
            raise MissingFileError(
                f"no checkpoint of this configuration's run (key {run_key(config)}) in "
                f"{checkpoints}: train first, or pass no config for the newest run")
        return Run(directory, checkpoint_prefixes(directory), trajectory_config(config))
    runs = [d for d in checkpoints.glob("*/") if checkpoint_prefixes(d)]
    if not runs:
        raise MissingFileError(f"no training checkpoint in {checkpoints}")
    directory = max(runs, key=lambda d: _index_time(checkpoint_prefixes(d)[-1]))
    return Run(directory, checkpoint_prefixes(directory),
               json.loads((directory / RUN_CONFIG_FILE).read_text()))


def source_digest(path: str | pathlib.Path) -> str:
    """``sha256:<hex>`` of a network source's content: the file, or the files of a run
    folder's newest checkpoint (``train.init_from``'s part of the run key).

    Raises:
        MissingFileError: no such file or folder.
    """
    path = pathlib.Path(path)
    if not path.exists():
        raise MissingFileError(f"train.init_from: {path} not found; give a generator .keras "
                               "file, a training run folder or a network-snapshot .pkl, or null")
    if is_run_folder(path):
        prefix = pathlib.Path(newest_run(path).prefixes[-1])
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


def checkpoint_prefixes(directory: str | pathlib.Path) -> list[str]:
    """The checkpoints of ``directory``, oldest first, as prefixes (``.../ckpt-N``).

    Those listed in the ``checkpoint`` state file or, when it is missing or
    unreadable, every ``ckpt-N.index`` present (ordered by N).
    """
    directory = pathlib.Path(directory)
    state = read_state(directory)
    if state is None:
        return indexed_on_disk(directory)
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


def tracked_variables(variables: Sequence[Any]) -> list[Any]:
    """The ``tf.Variable`` behind each Keras variable (others as they are), as a
    ``tf.train.Checkpoint`` group tracks them."""
    return [getattr(v, "value", v) if hasattr(v, "path") else v for v in variables]


def read_state(directory: pathlib.Path) -> list[str] | None:
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


def indexed_on_disk(directory: pathlib.Path) -> list[str]:
    """Prefixes of the ``ckpt-N.index`` files in ``directory``, by increasing N."""
    numbers = sorted(int(match.group(1)) for path in directory.glob("ckpt-*.index")
                     if (match := re.fullmatch(r"ckpt-(\d+)\.index", path.name)))
    return [str(directory / f"ckpt-{number}") for number in numbers]


def write_state(directory: pathlib.Path, prefixes: Sequence[str]) -> None:
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
