"""A run's network snapshots: G_ema and its metrics at every metrics point, and the best.

At every evaluation of ``evaluate.metrics`` during training (kimg 0 of a new run, every
``train.metrics_kimg`` and the end) the chief writes, as StyleGAN2-ADA writes
``network-snapshot-<kimg>.pkl``:

* ``snapshots/network-snapshot-<kimg>.keras``: G_ema, ``kimg`` with three decimals and
  zero-padded (``network-snapshot-000020.000.keras``), so names sort by time and name
  every image count exactly;
* ``snapshots/network-snapshot-<kimg>.metrics.json``: its metrics, in the record format of
  :mod:`sfkeras.metrics.reuse`, so that ``sfkeras evaluate --network`` of the snapshot
  reuses them;
* ``G_best.keras`` and ``G_best.metrics.json``: a copy of the snapshot with the lowest
  value of the *ranking metric*, the first FID or KID metric of ``evaluate.metrics``
  (lower is better for both; precision and recall rank nothing), among the snapshots
  evaluated with the newest one's protocol (a resumed run whose ``evaluate`` settings
  changed does not rank FIDs of other sample sizes together).

``train.keep_snapshots`` (``None``: all, as the original) keeps the newest N and the best.
Every file is written under a temporary name and renamed, so a killed run leaves whole
files only; a resumed run first drops the snapshots written after its checkpoint
(:meth:`SnapshotStore.prune_after`) and writes them again when it passes those image
counts (a resumed run is bit-exact), so no snapshot is lost or written twice.
"""

from __future__ import annotations

import json
import math
import os
import pathlib
import shutil
from collections.abc import Sequence
from typing import Any

from sfkeras.config.metric_names import parse_metric
from sfkeras.metrics.reuse import record_path, write_record

SNAPSHOT_PREFIX = "network-snapshot-"
BEST_NAME = "G_best.keras"


def snapshot_name(nimg: int) -> str:
    """``network-snapshot-<kimg>.keras`` of the snapshot after ``nimg`` images."""
    return f"{SNAPSHOT_PREFIX}{nimg / 1000:010.3f}.keras"


def snapshot_nimg(path: pathlib.Path) -> int:
    """The image count a snapshot file's name states (inverse of :func:`snapshot_name`)."""
    return round(float(path.stem.removeprefix(SNAPSHOT_PREFIX)) * 1000)


def ranking_metric(metric_names: Sequence[str]) -> str | None:
    """The result key snapshots are ranked by: the first FID or KID metric of
    ``metric_names`` (``None``: there is none)."""
    for name in metric_names:
        spec = parse_metric(name)
        if spec.kind in ("fid", "kid"):
            return spec.result_keys()[0]
    return None


class SnapshotStore:
    """The snapshots of one run folder.

    Args:
        run_dir: the run folder: snapshots go to ``run_dir/snapshots``, the best to
            ``run_dir/G_best.keras``.
        keep: snapshots to keep (the newest ``keep`` and the best; ``None``: all).
        ranking: result key that ranks snapshots, lower is better (:func:`ranking_metric`).
    """

    def __init__(self, run_dir: pathlib.Path, keep: int | None, ranking: str | None):
        self.folder = run_dir / "snapshots"
        self.best_path = run_dir / BEST_NAME
        self.keep = keep
        self.ranking = ranking

    def snapshots(self) -> list[pathlib.Path]:
        """The snapshot files, oldest first."""
        return sorted(self.folder.glob(f"{SNAPSHOT_PREFIX}*.keras"), key=snapshot_nimg)

    def add(self, generator, nimg: int, protocol: dict[str, Any],
            results: dict[str, float]) -> pathlib.Path:
        """Write the snapshot of ``generator`` after ``nimg`` images with its ``results``
        under ``protocol``, drop the snapshots beyond ``keep`` and update the best.

        Returns:
            The snapshot file.
        """
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / snapshot_name(nimg)
        network, record = _temporary(path), _temporary(record_path(path))
        generator.save(network)
        # The record names its snapshot, so that G_best's copy says which one it is.
        write_record(record, network, protocol, results, snapshot=path.name)
        os.replace(network, path)
        os.replace(record, record_path(path))
        self._drop_surplus()
        self.update_best()
        return path

    def prune_after(self, nimg: int | None) -> None:
        """Delete the snapshots after ``nimg`` images (``None``: all, for a run whose
        history starts afresh) and any temporary file, then update the best. Creates the
        folder: it exists (maybe empty) for every run, as a pipeline output must."""
        self.folder.mkdir(parents=True, exist_ok=True)
        for path in self.snapshots():
            if nimg is None or snapshot_nimg(path) > nimg:
                _delete_snapshot(path)
        for folder in (self.folder, self.best_path.parent):
            for temporary in folder.glob(".*.tmp.*"):
                temporary.unlink()
        self.update_best()

    def best(self) -> pathlib.Path | None:
        """The kept snapshot with the lowest finite ranking metric (the newest of equals)
        among those of the newest snapshot's protocol; ``None``: none has a value."""
        records = {path: _read_record(record_path(path)) for path in self.snapshots()}
        protocol = next((r["protocol"] for r in reversed(records.values()) if r), None)
        ranked = [(value, -snapshot_nimg(path), path) for path, record in records.items()
                  if record.get("protocol") == protocol
                  and (value := self._ranking_value(record)) is not None]
        return min(ranked)[2] if ranked else None

    def update_best(self, fallback: pathlib.Path | None = None) -> pathlib.Path | None:
        """Make ``G_best.keras`` (and its record) a copy of :meth:`best`, or of
        ``fallback`` (a network with its record) when no snapshot ranks; without either,
        remove them. Returns the network copied."""
        best = self.best()
        source = best or fallback
        if source is None:
            for path in (self.best_path, record_path(self.best_path)):
                path.unlink(missing_ok=True)
        elif best is None or not self.best_path.is_file() \
                or _read_record(record_path(self.best_path)).get("snapshot") != best.name:
            # The record goes first and comes back last: a copy killed half-way leaves
            # no record that names a snapshot whose weights are not there.
            record_path(self.best_path).unlink(missing_ok=True)
            for origin, target in ((source, self.best_path),
                                   (record_path(source), record_path(self.best_path))):
                if origin.is_file():  # (a fallback may have no record)
                    temporary = _temporary(target)
                    shutil.copyfile(origin, temporary)
                    os.replace(temporary, target)
        return source

    def _drop_surplus(self) -> None:
        if self.keep is None:
            return
        best = self.best()
        for path in self.snapshots()[:-self.keep]:
            if path != best:
                _delete_snapshot(path)

    def _ranking_value(self, record: dict[str, Any]) -> float | None:
        value = (record.get("results") or {}).get(self.ranking)
        return value if value is not None and math.isfinite(value) else None


def _temporary(path: pathlib.Path) -> pathlib.Path:
    """Where ``path`` is written before it is renamed into place (same folder)."""
    return path.with_name(f".{path.stem}.tmp{path.suffix}")


def _read_record(path: pathlib.Path) -> dict[str, Any]:
    return json.loads(path.read_text()) if path.is_file() else {}


def _delete_snapshot(path: pathlib.Path) -> None:
    """Delete a snapshot and its record (the record first: a snapshot without a record
    ranks nowhere, a record without a snapshot would rank a missing file)."""
    record_path(path).unlink(missing_ok=True)
    path.unlink()
