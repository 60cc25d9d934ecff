"""Attention statistics as metrics: ``attention.<layer>.<statistic>`` beside FID and KID.

:func:`attention_metrics` flattens :func:`~sfkeras.models.attention_statistics.
attention_statistics` into the result keys the evaluate stage writes into
``data/eval/metrics.json`` and training logs at every metrics point, so that
``dvc exp show`` lists them beside fid1k and the training curve shows when attention
collapses.
"""

from __future__ import annotations

from sfkeras.models.attention_statistics import attention_statistics


def attention_metrics(generator, num_latents: int, seed: int = 0) -> dict[str, float]:
    """``{"attention.<layer>.entropy": e, "attention.<layer>.max": m, ...}`` of
    ``generator`` (a :class:`~sfkeras.models.Generator`) over ``num_latents`` latents of
    ``seed``; empty for ``num_latents == 0``."""
    if num_latents == 0:
        return {}
    statistics = attention_statistics(generator, num_latents, seed)
    return {f"attention.{layer}.{name}": value
            for layer, values in statistics.items() for name, value in values.items()}
