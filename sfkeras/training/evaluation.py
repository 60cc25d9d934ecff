"""The metrics a run computes while it trains (``train.metrics_kimg``).

G_ema is evaluated at the start of a fresh run (kimg 0, as the original's tick 0),
every ``metrics_kimg`` and at the end, with ``evaluate.metrics`` against the run's real
images; the values are logged as ``metrics/<name>``, and G_ema is kept with them as a
network snapshot (:mod:`sfkeras.training.snapshots`). The final values are recorded
beside ``G_ema.keras`` (:mod:`sfkeras.metrics.reuse`), so that ``sfkeras evaluate``
reuses them instead of computing them again.
"""

from __future__ import annotations

import dataclasses
import pathlib

from sfkeras.metrics.attention import attention_metrics
from sfkeras.metrics.evaluate import evaluate_generator
from sfkeras.metrics.generator_fn import keras_generator_fn
from sfkeras.metrics.reuse import record_path, training_protocol, write_record
from sfkeras.training.logging import TrainingLogger
from sfkeras.training.snapshots import SnapshotStore
from sfkeras.training.trainer import Trainer


@dataclasses.dataclass(frozen=True)
class TrainingMetrics:
    """What the ``train.metrics_kimg`` evaluations compare G_ema with.

    Attributes:
        dataset_path: the prepared data set of the real images.
        inception_weights: FID Inception weights (``None``: ``evaluate.inception_weights``).
        snapshots: where G_ema is kept with the metrics of each evaluation (``None``:
            nowhere).
    """

    dataset_path: pathlib.Path
    inception_weights: str | pathlib.Path | None = None
    snapshots: SnapshotStore | None = None


def evaluate_and_log(trainer: Trainer, logger: TrainingLogger,
                     metrics: TrainingMetrics | None) -> dict[str, float] | None:
    """Evaluate G_ema, log and keep its snapshot at the current kimg, when
    ``train.metrics_kimg > 0``.

    Returns the results (``None``: not evaluated).
    """
    if trainer.config.train.metrics_kimg <= 0 or metrics is None:
        return None
    nimg = int(trainer.cur_nimg.numpy())
    with logger.status(f"evaluating {', '.join(trainer.config.evaluate.metrics)} "
                       f"at {nimg / 1000:g} kimg"):
        results = evaluate_ema(trainer, metrics)
    logger.log(nimg / 1000, {f"metrics/{name}": value for name, value in results.items()})
    if metrics.snapshots is not None:
        metrics.snapshots.add(trainer.generator_ema, nimg,
                              training_protocol(trainer.config.evaluate, metrics.dataset_path),
                              results)
    return results


def evaluate_ema(trainer: Trainer, metrics: TrainingMetrics) -> dict[str, float]:
    """``evaluate.metrics`` of G_ema against the real images of ``metrics``, and its
    attention statistics (``evaluate.attention_latents``). A conditional G_ema's labels
    are drawn from the training set's label distribution."""
    generator = trainer.generator_ema
    generate = keras_generator_fn(generator)  # random noise, no truncation: the original's
    evaluate = trainer.config.evaluate
    # With the CPU split (train.cpu_replicas), each op runs on one replica's share of
    # the cores: as many concurrent Inception passes keep all of them busy.
    results = evaluate_generator(generate, metrics.dataset_path, evaluate.metrics,
                                 z_dim=generator.z_dim, num_images=evaluate.num_images,
                                 batch_size=evaluate.batch_size, seed=evaluate.seed,
                                 split=evaluate.split,
                                 inception_weights=metrics.inception_weights
                                 or evaluate.inception_weights,
                                 inception_threads=trainer.config.train.cpu_replicas,
                                 label_distribution=trainer.label_distribution)
    return {**{name: float(value) for name, value in results.items()},
            **attention_metrics(generator, evaluate.attention_latents, evaluate.seed)}


def record_final_metrics(trainer: Trainer, network: pathlib.Path,
                         metrics: TrainingMetrics | None,
                         results: dict[str, float] | None) -> None:
    """Write the record that lets ``sfkeras evaluate`` reuse the metrics of ``network``;
    without final results, one that matches nothing."""
    protocol = None if results is None or metrics is None else training_protocol(
        trainer.config.evaluate, metrics.dataset_path)
    write_record(record_path(network), network, protocol, results)
