"""Metrics computed once per generator file and protocol, then reused.

Training evaluates its final G_ema (``train.metrics_kimg``) with the same protocol as
``sfkeras evaluate``; it writes the results beside the saved network, in
``<network>.metrics.json``, with the network file's SHA-256 and the protocol. The
evaluation of that file reuses them when both still match, instead of computing the
same metrics a second time.
"""

from __future__ import annotations

import hashlib
import json
import os
import pathlib
from typing import TYPE_CHECKING, Any

from sfkeras.metrics.evaluate import INCEPTION_ID, open_real_images

if TYPE_CHECKING:
    from sfkeras.config import EvaluateConfig


def record_path(network: str | os.PathLike) -> pathlib.Path:
    """``<dir>/<stem>.metrics.json``: where the metrics of ``network`` are recorded."""
    network = pathlib.Path(network)
    return network.with_name(f"{network.stem}.metrics.json")


def evaluation_protocol(settings: EvaluateConfig,
                        dataset_path: str | os.PathLike) -> dict[str, Any]:
    """Everything the results of an evaluation depend on besides the network.

    Args:
        settings: the ``evaluate`` configuration section (metrics, counts, seed, split,
            truncation, attention statistics).
        dataset_path: the prepared data set of the real images (identified by its
            content hash).
    """
    return {
        "metrics": list(settings.metrics),
        "num_images": settings.num_images,
        "seed": settings.seed,
        "split": settings.split,
        "truncation_psi": settings.truncation_psi,
        "real_images": open_real_images(dataset_path, settings.split).key,
        "detector": INCEPTION_ID,
        "noise": "random",
        "attention_latents": settings.attention_latents,
    }


def training_protocol(settings: EvaluateConfig, dataset_path: str | os.PathLike) -> dict[str, Any]:
    """:func:`evaluation_protocol` of training's evaluations (no truncation)."""
    return {**evaluation_protocol(settings, dataset_path), "truncation_psi": 1.0}


def write_record(path: pathlib.Path, network: pathlib.Path, protocol: dict[str, Any] | None,
                 results: dict[str, float] | None, **extra: Any) -> None:
    """Record ``results`` of ``network`` (a file) under ``protocol`` at ``path``.

    ``None`` for both records that ``network`` has no results yet (the file always
    exists, so that a pipeline can declare it). ``extra`` keys are recorded too (e.g.
    which snapshot a copy is of).
    """
    record = {"network_sha256": _sha256(network), "protocol": protocol, "results": results,
              **extra}
    path.write_text(json.dumps(record, indent=2) + "\n")


def recorded_results(network: pathlib.Path,
                     protocol: dict[str, Any]) -> dict[str, float] | None:
    """The recorded results of ``network`` under ``protocol``, or ``None`` when there
    is no record, or it is of another file or protocol."""
    path = record_path(network)
    if not network.is_file() or not path.is_file():
        return None
    record = json.loads(path.read_text())
    if record["results"] is None or record["protocol"] != protocol \
            or record["network_sha256"] != _sha256(network):
        return None
    return record["results"]


def _sha256(path: pathlib.Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
