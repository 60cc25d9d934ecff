"""All Styleformer encoder layers of one resolution, with its ToRGB and 2x up-sampling.

:class:`StyleformerStage` follows the stage protocol of :mod:`sfkeras.layers.stage`.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import keras
from keras import ops

from sfkeras.layers.attention import ModulatedEncoderLayer
from sfkeras.layers.noise import fold_noise_seed
from sfkeras.layers.stage import BlockOutput, exhaust
from sfkeras.layers.torgb import DemodulatedToRGB
from sfkeras.ops import upsample_2d


@keras.saving.register_keras_serializable(package="sfkeras")
class StyleformerStage(keras.layers.Layer):
    """The encoder layers of one resolution (the original's ``b{res}_{j}`` blocks).

    The first layer's input gets a learned positional embedding ``[1, seq, hidden]``
    (the first stage starts from a learned constant ``[seq, hidden]`` instead of the
    previous stage's map). The last layer maps to ``out_hidden`` channels; then the
    ToRGB adds its image to the (2x up-sampled) running image, and the tokens are
    up-sampled 2x for the next stage (unless ``upsample`` is false).

    ws: layer ``j`` reads ``ws[:, j]``, the ToRGB reads ``ws[:, num_layers]`` (the
    next stage's first index), so the stage takes ``num_layers + 1`` ws.

    Args:
        resolution: token map size (``seq = resolution**2``, row-major).
        hidden: width of the encoder layers.
        out_hidden: width after the last layer (the next resolution's hidden size).
        num_layers: encoder layers.
        num_heads: attention heads.
        img_channels: image channels.
        conv_clamp: clamp of every layer output, or ``None``.
        linformer_dim: Linformer projection size, or ``None`` for full attention.
        layer_norm, demodulate_qk: the encoder variant (:class:`ModulatedEncoderLayer`).
        has_const: start from the learned constant (first stage).
        upsample: up-sample the output tokens 2x (false at the last resolution or when
            the next stage up-samples by itself).
        seed: base seed of the layers' noise (layer ``j`` uses ``seed + j``).
    """

    def __init__(
        self,
        resolution: int,
        hidden: int,
        out_hidden: int,
        num_layers: int,
        num_heads: int,
        *,
        img_channels: int = 3,
        conv_clamp: float | None = None,
        linformer_dim: int | None = None,
        layer_norm: str = "pre",
        demodulate_qk: bool = True,
        has_const: bool = False,
        upsample: bool = True,
        seed: int | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.resolution = resolution
        self.hidden = hidden
        self.out_hidden = out_hidden
        self.num_layers = num_layers
        self.num_heads = num_heads
        self.img_channels = img_channels
        self.conv_clamp = conv_clamp
        self.linformer_dim = linformer_dim
        self.layer_norm = layer_norm
        self.demodulate_qk = demodulate_qk
        self.has_const = has_const
        self.upsample = upsample
        self.seed = seed
        self.seq_length = resolution * resolution
        self.encoders = [
            ModulatedEncoderLayer(
                out_hidden if j == num_layers - 1 else hidden, num_heads,
                linformer_dim=linformer_dim, conv_clamp=conv_clamp, layer_norm=layer_norm,
                demodulate_qk=demodulate_qk, seed=None if seed is None else seed + j,
                name=f"encoder{j}")
            for j in range(num_layers)
        ]
        self.torgb = DemodulatedToRGB(img_channels, name="torgb")

    @property
    def num_ws(self) -> int:
        """ws the stage reads: one per layer plus the ToRGB's."""
        return self.num_layers + 1

    def build(self, ws_shape):
        w_shape = (ws_shape[0], ws_shape[-1])
        if self.has_const:
            self.const = self.add_weight(
                name="const", shape=(self.seq_length, self.hidden),
                initializer=keras.initializers.RandomNormal(stddev=1.0))  # torch.randn
        self.pos_embedding = self.add_weight(
            name="pos_embedding", shape=(1, self.seq_length, self.hidden), initializer="zeros")
        for encoder in self.encoders:
            encoder.build((None, self.seq_length, self.hidden), w_shape)
        self.torgb.build((None, self.seq_length, self.out_hidden), w_shape)

    def run_blocks(
        self, x, img, ws, noise_mode: str = "random", with_attention: bool = False,
        noise_seed=None,
    ) -> Generator[BlockOutput, None, tuple[Any, Any]]:
        """Run the stage block by block.

        Args:
            x: previous feature map ``[N, res, res, hidden]`` (ignored with ``has_const``).
            img: running image ``[N, res/2, res/2, channels]`` or ``None``.
            ws: ``[N, num_layers + 1, w_dim]``.
            noise_mode: see :class:`ModulatedEncoderLayer`.
            with_attention: fill :attr:`BlockOutput.attention`.
            noise_seed: int ``[2]`` seed of ``"random"`` noise, folded per layer
                (``None``: the layers' seed generators).

        Yields:
            One :class:`BlockOutput` per encoder layer.

        Returns:
            ``(x, img)``: the output map ``[N, R, R, out_hidden]`` (``R = 2 res`` if
            ``upsample``) and the image ``[N, res, res, channels]``.
        """
        if self.has_const:
            tokens = ops.broadcast_to(self.const[None] + self.pos_embedding,
                                      (ops.shape(ws)[0], self.seq_length, self.hidden))
        else:
            tokens = ops.reshape(x, (-1, self.seq_length, self.hidden)) + self.pos_embedding
        for j, encoder in enumerate(self.encoders):
            attention = None
            layer_seed = fold_noise_seed(noise_seed, j)
            if with_attention:
                tokens, attention = encoder(tokens, ws[:, j], noise_mode=noise_mode,
                                            return_attention=True, noise_seed=layer_seed)
            else:
                tokens = encoder(tokens, ws[:, j], noise_mode=noise_mode, noise_seed=layer_seed)
            if j == self.num_layers - 1:
                tokens, img = self._finish(tokens, img, ws[:, self.num_layers])
            yield BlockOutput(f"b{self.resolution}_{j}", tokens, img, attention)
        size = 2 * self.resolution if self.upsample else self.resolution
        return ops.reshape(tokens, (-1, size, size, self.out_hidden)), img

    def _finish(self, tokens, img, w):
        """ToRGB into the up-sampled running image, then up-sample the tokens."""
        res = self.resolution
        rgb = ops.reshape(self.torgb(tokens, w), (-1, res, res, self.img_channels))
        img = rgb if img is None else upsample_2d(img) + rgb
        if self.upsample:
            tokens = upsample_2d(ops.reshape(tokens, (-1, res, res, self.out_hidden)))
            tokens = ops.reshape(tokens, (-1, 4 * self.seq_length, self.out_hidden))
        return tokens, img

    def call(self, x, img, ws, noise_mode: str = "random", noise_seed=None):
        """``(x, img) -> (x, img)`` for the whole stage; see :meth:`run_blocks`."""
        return exhaust(self.run_blocks(x, img, ws, noise_mode, noise_seed=noise_seed))

    def get_config(self):
        return {
            **super().get_config(),
            "resolution": self.resolution,
            "hidden": self.hidden,
            "out_hidden": self.out_hidden,
            "num_layers": self.num_layers,
            "num_heads": self.num_heads,
            "img_channels": self.img_channels,
            "conv_clamp": self.conv_clamp,
            "linformer_dim": self.linformer_dim,
            "layer_norm": self.layer_norm,
            "demodulate_qk": self.demodulate_qk,
            "has_const": self.has_const,
            "upsample": self.upsample,
            "seed": self.seed,
        }
