"""Generator hyper-parameters (``generator:`` in ``params.yaml``)."""

from __future__ import annotations

import dataclasses
from typing import Literal

from sfkeras.config.base import Section


@dataclasses.dataclass(frozen=True)
class GeneratorConfig(Section):
    """Styleformer generator: mapping network plus token synthesis network.

    The synthesis network has one entry per resolution, starting at
    ``start_resolution`` and doubling up to ``resolution``; ``num_layers[i]`` encoder
    layers of width ``hidden[i]`` run at the i-th resolution (the paper's "Layers" and
    "Hidden size" lists). Resolutions above ``styleformer_max_resolution`` use
    StyleGAN2 synthesis blocks instead (Styleformer-C): there ``num_layers`` counts
    blocks of two 3x3 convolutions and ``hidden`` is their channel count.

    Attributes:
        resolution: output image size (square), ``start_resolution * 2**(len(hidden)-1)``.
        start_resolution: size of the learned constant token map (8; 12 for STL-10).
        num_layers: encoder layers (or StyleGAN2 blocks) per resolution.
        hidden: hidden size (or channels) per resolution.
        depth: target per-head width; heads = ``max(minimum_head, hidden // depth)``.
        minimum_head: lower bound on the number of attention heads.
        z_dim: latent size.
        c_dim: classes of a class-conditional network, the prepared data set's number
            of classes (0: unconditional). StyleGAN2-ADA's conditioning: the mapping
            network embeds the one-hot label, the discriminator projects its output onto
            a mapped label.
        w_dim: intermediate latent size.
        mapping_layers: fully connected layers in the mapping network.
        conv_clamp: clamp of every encoder/conv output, ``None`` for no clamp.
        linformer: Styleformer-L: project K and V along the token axis at
            resolutions >= ``linformer_min_resolution``.
        linformer_dim: Linformer projection size k (the paper uses 256).
        linformer_min_resolution: first resolution that uses the projection.
        styleformer_max_resolution: last Styleformer resolution (Styleformer-C), or
            ``None`` for a pure Styleformer.
        img_channels: image channels (3 for RGB).
        w_avg_beta: decay of the tracked average of w during training.
        layer_norm: ``pre`` (Styleformer: each encoder normalises its tokens right after
            the style modulation) or ``post`` (the paper's Appendix B variant: at the end
            of the encoder, on the sum of attention and skip, before noise and bias).
        demodulate_qk: demodulate the query and key (Styleformer); ``false``: the
            Appendix B variant, Q and K from the modulated tokens as they are.
    """

    resolution: int = 32
    start_resolution: int = 8
    num_layers: tuple[int, ...] = (1, 2, 2)
    hidden: tuple[int, ...] = (256, 64, 16)
    depth: int = 32
    minimum_head: int = 1
    z_dim: int = 512
    c_dim: int = 0
    w_dim: int = 512
    mapping_layers: int = 2
    conv_clamp: float | None = 256.0
    linformer: bool = False
    linformer_dim: int = 256
    linformer_min_resolution: int = 32
    styleformer_max_resolution: int | None = None
    img_channels: int = 3
    w_avg_beta: float = 0.995
    layer_norm: Literal["pre", "post"] = "pre"
    demodulate_qk: bool = True

    @property
    def block_resolutions(self) -> tuple[int, ...]:
        """Resolution of every entry of ``num_layers`` / ``hidden``."""
        return tuple(self.start_resolution * 2**i for i in range(len(self.hidden)))

    def num_heads(self, hidden: int) -> int:
        """Attention heads of an encoder layer of width ``hidden``."""
        return max(self.minimum_head, hidden // self.depth)

    def is_styleformer(self, resolution: int) -> bool:
        """Whether the blocks at ``resolution`` are Styleformer encoders."""
        limit = self.styleformer_max_resolution
        return limit is None or resolution <= limit

    def validate(self) -> None:
        for name in ("resolution", "start_resolution", "depth", "minimum_head", "z_dim",
                     "w_dim", "mapping_layers", "linformer_dim", "img_channels"):
            if getattr(self, name) < 1:
                self.fail(name, f"must be a positive integer, got {getattr(self, name)}")
        if self.c_dim < 0:
            self.fail("c_dim", f"must be >= 0 (0: unconditional), got {self.c_dim}")
        if len(self.num_layers) != len(self.hidden):
            self.fail("hidden", f"has {len(self.hidden)} entries but num_layers has "
                      f"{len(self.num_layers)}: give one entry per resolution")
        if not self.hidden:
            self.fail("hidden", "needs at least one entry")
        if any(n < 1 for n in self.num_layers):
            self.fail("num_layers", f"every entry must be >= 1, got {list(self.num_layers)}")
        if any(h < 1 for h in self.hidden):
            self.fail("hidden", f"every entry must be >= 1, got {list(self.hidden)}")
        expected = self.block_resolutions[-1]
        if expected != self.resolution:
            steps = self.resolution / self.start_resolution
            if steps < 1 or steps != 2 ** round(_log2(steps)):
                self.fail("resolution", f"{self.resolution} is not start_resolution "
                          f"({self.start_resolution}) times a power of two")
            self.fail("hidden", f"{len(self.hidden)} entries reach {expected}x{expected} from "
                      f"{self.start_resolution}x{self.start_resolution}, but resolution is "
                      f"{self.resolution}: give {round(_log2(steps)) + 1} entries "
                      f"(one per resolution)")
        for res, width in zip(self.block_resolutions, self.hidden, strict=True):
            if not self.is_styleformer(res):
                continue
            heads = self.num_heads(width)
            if width % heads:
                self.fail("hidden", f"{width} (at {res}x{res}) is not divisible by its "
                          f"{heads} attention heads (max(minimum_head, hidden // depth)); "
                          "change hidden, depth or minimum_head")
        if self.styleformer_max_resolution is not None:
            if self.styleformer_max_resolution not in self.block_resolutions:
                self.fail("styleformer_max_resolution", "must be one of the block resolutions "
                          f"{list(self.block_resolutions)}")
        if self.conv_clamp is not None and self.conv_clamp <= 0:
            self.fail("conv_clamp", "must be positive or null")
        if not 0.0 <= self.w_avg_beta <= 1.0:
            self.fail("w_avg_beta", "must be in [0, 1]")

    @property
    def num_ws(self) -> int:
        """Number of w vectors the synthesis network consumes.

        As in the original: one per encoder layer (two per StyleGAN2 block) plus one
        per resolution for its ToRGB. The ToRGB of a resolution reads the index of the
        next resolution's first layer (StyleGAN2's convention), so the last
        ``len(hidden) - 1`` entries are allocated but never read.
        """
        return sum(self.layer_ws) + len(self.hidden)

    @property
    def layer_ws(self) -> tuple[int, ...]:
        """Number of w vectors read by the layers of each resolution (not ToRGB)."""
        return tuple(
            layers if self.is_styleformer(res) else 2 * layers
            for res, layers in zip(self.block_resolutions, self.num_layers, strict=True)
        )


def _log2(value: float) -> float:
    import math

    return math.log2(value) if value > 0 else float("-inf")
