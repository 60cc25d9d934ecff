"""Metric names and the protocols they stand for (StyleGAN2-ADA's naming).

A name is ``<kind><count>k[<k>][_full]``:

- ``kind``: ``fid`` (Frechet Inception distance), ``kid`` (kernel Inception distance)
  or ``pr`` (precision and recall, followed by its neighbourhood size ``k``);
- ``count``: thousands of *generated* images (``fid50k``: 50,000; ``fid2k``: 2,000);
- ``_full``: compare with all real images of the training split (capped, as in the
  original, at 1,000,000 for KID and 200,000 for precision/recall); without it, with
  the first ``count`` real images, the original's rule for its ``fid50k``/``kid50k``/
  ``pr50k3`` names.

So ``fid50k_full``, ``kid50k_full`` and ``pr50k3_full`` are StyleGAN2-ADA's reported
metrics, and ``fid2k``/``kid2k``/``pr2k3`` are small ones that run on a CPU.

Precision/recall runs on the FID Inception's pool3 features; the original uses VGG16
features (``vgg16.pt``), so its values are not comparable with published ones.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Literal

_NAME = re.compile(
    r"(?P<kind>fid|kid|pr)(?P<count>[1-9][0-9]*)k(?P<nhood>[1-9][0-9]*)?(?P<full>_full)?"
)
_MAX_REAL_FULL = {"fid": None, "kid": 1_000_000, "pr": 200_000}


@dataclasses.dataclass(frozen=True)
class MetricSpec:
    """One metric to compute.

    Attributes:
        name: the protocol name, e.g. ``"fid50k_full"`` (prefix of the result keys).
        kind: ``"fid"``, ``"kid"`` or ``"pr"``.
        num_gen: generated images.
        full: compare with all real images (else with the first ``num_gen``).
        nhood_size: ``k`` of precision/recall (``None`` for the others).
        num_subsets: KID's random subsets.
        max_subset_size: KID's largest subset.
    """

    name: str
    kind: Literal["fid", "kid", "pr"]
    num_gen: int
    full: bool
    nhood_size: int | None = None
    num_subsets: int = 100
    max_subset_size: int = 1000

    @property
    def max_real(self) -> int | None:
        """Real images to use (the data set's first ones); ``None``: all."""
        return _MAX_REAL_FULL[self.kind] if self.full else self.num_gen

    @property
    def needs_all_features(self) -> bool:
        """Whether the metric needs every feature vector, not just mean and covariance."""
        return self.kind != "fid"

    def result_keys(self) -> tuple[str, ...]:
        """Keys of this metric in the result dictionary."""
        if self.kind == "pr":
            return f"{self.name}_precision", f"{self.name}_recall"
        return (self.name,)


def parse_metric(name: str) -> MetricSpec:
    """The :class:`MetricSpec` of a protocol name such as ``fid50k_full`` or ``pr2k3``.

    Raises:
        ValueError: the name does not follow ``<fid|kid|pr><count>k[<k>][_full]``.
    """
    match = _NAME.fullmatch(name)
    if match is None or (match["kind"] == "pr") != (match["nhood"] is not None):
        raise ValueError(
            f"unknown metric '{name}': expected fid<N>k, kid<N>k or pr<N>k<K> with N "
            "thousand generated images, K the precision/recall neighbourhood, and an "
            "optional '_full' to use all real images (e.g. fid50k_full, kid2k, pr2k3)"
        )
    return MetricSpec(
        name=name,
        kind=match["kind"],
        num_gen=int(match["count"]) * 1000,
        full=match["full"] is not None,
        nhood_size=int(match["nhood"]) if match["nhood"] else None,
    )
