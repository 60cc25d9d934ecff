"""The stage protocol: how the synthesis network runs its unit per resolution.

A *stage* is the synthesis network's unit per resolution. Every stage follows the same
protocol, so the synthesis network (:class:`sfkeras.models.generator.SynthesisNetwork`)
can mix stage kinds (Styleformer-C:
:class:`~sfkeras.layers.styleformer_stage.StyleformerStage` up to a resolution,
:class:`~sfkeras.layers.stylegan2.StyleGAN2Stage` above it):

- ``call(x, img, ws, noise_mode) -> (x, img)``: ``x`` is the previous stage's NHWC
  feature map (``None`` for the first stage), ``img`` the running NHWC image (or
  ``None``), ``ws [N, n, w_dim]`` the stage's slice of ws;
- ``num_ws``: the ws the stage reads, its layers' and, for its ToRGB, the next
  stage's first index;
- ``run_blocks(...)``: a generator yielding one :class:`BlockOutput` per block and
  returning ``(x, img)`` (``call`` exhausts it with :func:`exhaust`), for parity tests
  and attention maps.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Generator
from typing import Any


@dataclasses.dataclass(frozen=True)
class BlockOutput:
    """What one block of a stage produced.

    Attributes:
        name: the original's block name, ``b{res}_{j}``.
        x: the block's output tokens ``[N, seq, C]`` (after the 2x up-sampling that
            ends a resolution, so ``seq`` is then ``4 * res**2``).
        img: the running image ``[N, H, W, 3]`` after the block (``None`` before the
            first ToRGB).
        attention: attention probabilities ``[N, heads, seq, seq_kv]`` if requested.
    """

    name: str
    x: Any
    img: Any
    attention: Any = None


def exhaust(blocks: Generator[BlockOutput, None, Any]) -> Any:
    """Run a :meth:`run_blocks` generator to its end and return its return value."""
    while True:
        try:
            next(blocks)
        except StopIteration as done:
            return done.value
