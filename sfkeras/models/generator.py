"""The Styleformer generator: mapping network ``z -> ws`` and synthesis network ``ws -> image``."""

from __future__ import annotations

import contextlib
from collections.abc import Generator as Iterator
from typing import Any

import keras
import numpy as np

from sfkeras.config.generator import GeneratorConfig
from sfkeras.layers.mapping import MappingNetwork
from sfkeras.layers.noise import check_noise_mode, fold_noise_seed
from sfkeras.layers.stage import BlockOutput
from sfkeras.layers.styleformer_stage import StyleformerStage
from sfkeras.layers.stylegan2 import StyleGAN2Stage
from sfkeras.ops import at_least_float32


@contextlib.contextmanager
def global_dtype_policy(name: str | None):
    """Keras' global dtype policy set to ``name`` for the layers created in the block, and
    ``floatx`` to its variable dtype (for the optimisers' learning rates); ``None``:
    unchanged. The previous settings are restored on exit."""
    previous, previous_floatx = keras.config.dtype_policy(), keras.config.floatx()
    if name is not None:
        keras.config.set_dtype_policy(name)
        keras.config.set_floatx(keras.config.dtype_policy().variable_dtype)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)
        keras.config.set_floatx(previous_floatx)


def _as_config(config: GeneratorConfig | dict[str, Any]) -> GeneratorConfig:
    return config if isinstance(config, GeneratorConfig) else GeneratorConfig.from_dict(
        config, "generator")


@keras.saving.register_keras_serializable(package="sfkeras")
class SynthesisNetwork(keras.layers.Layer):
    """``ws [N, num_ws, w_dim] -> images [N, resolution, resolution, channels]`` (NHWC).

    One stage per resolution of ``config.block_resolutions`` (see
    :mod:`sfkeras.layers.stage` for the stage protocol): Styleformer stages
    up to ``config.styleformer_max_resolution``, StyleGAN2 stages
    (:class:`~sfkeras.layers.stylegan2.StyleGAN2Stage`) above it (Styleformer-C: the
    last Styleformer stage hands over its map without up-sampling it). The images of all
    stages' ToRGBs are summed, each up-sampled 2x before the next is added (StyleGAN2's
    skip architecture). Stage ``i`` reads ``ws[:, start_i : start_i + layer_ws[i] + 1]``
    with ``start_i = sum(layer_ws[:i])``: its layers' ws and, for its ToRGB, the index
    of the next stage's first layer.

    Args:
        config: the generator configuration (or its ``to_dict()``).
        seed: base seed of the random noise (``None``: nondeterministic).
    """

    def __init__(self, config: GeneratorConfig | dict[str, Any], seed: int | None = None,
                 **kwargs):
        super().__init__(**kwargs)
        self.config = _as_config(config)
        self.seed = seed
        self.ws_starts = tuple(int(s) for s in np.cumsum((0,) + self.config.layer_ws[:-1]))
        self.stages = [self._make_stage(i) for i in range(len(self.config.hidden))]

    def _make_stage(self, index: int) -> keras.layers.Layer:
        """The stage of the ``index``-th resolution (the per-resolution block factory)."""
        config = self.config
        resolutions = config.block_resolutions
        res = resolutions[index]
        seed = None if self.seed is None else self.seed + 1000 * index
        if not config.is_styleformer(res):
            previous_is_styleformer = config.is_styleformer(resolutions[index - 1])
            return StyleGAN2Stage(
                resolution=res,
                in_channels=config.hidden[index if previous_is_styleformer else index - 1],
                filters=config.hidden[index],
                num_blocks=config.num_layers[index],
                img_channels=config.img_channels,
                conv_clamp=config.conv_clamp,
                seed=seed,
                name=f"b{res}",
            )
        is_last = index == len(resolutions) - 1
        use_linformer = config.linformer and res >= config.linformer_min_resolution
        return StyleformerStage(
            resolution=res,
            hidden=config.hidden[index],
            out_hidden=config.hidden[index if is_last else index + 1],
            num_layers=config.num_layers[index],
            num_heads=config.num_heads(config.hidden[index]),
            img_channels=config.img_channels,
            conv_clamp=config.conv_clamp,
            linformer_dim=config.linformer_dim if use_linformer else None,
            layer_norm=config.layer_norm,
            demodulate_qk=config.demodulate_qk,
            has_const=index == 0,
            upsample=not is_last and config.is_styleformer(resolutions[index + 1]),
            seed=seed,
            name=f"b{res}",
        )

    def build(self, ws_shape):
        for stage, count in zip(self.stages, self.config.layer_ws, strict=True):
            stage.build((ws_shape[0], count + 1, ws_shape[-1]))

    def _stage_ws(self, ws, index: int):
        start = self.ws_starts[index]
        return ws[:, start : start + self.config.layer_ws[index] + 1]

    def call(self, ws, noise_mode: str = "random", noise_seed=None):
        """``ws [N, num_ws, w_dim] -> [N, resolution, resolution, channels]`` float32
        (float64 under a float64 policy).

        Args:
            noise_mode: ``"random"``, ``"const"`` or ``"none"`` (per-layer noise).
            noise_seed: int ``[2]`` seed of ``"random"`` noise, folded per stage and
                layer: stateless, the same seed gives the same noise (the trainer's
                per-step, per-replica noise). ``None``: each layer draws from its own
                seed generator (advancing its state).
        """
        check_noise_mode(noise_mode)
        x = img = None
        for index, stage in enumerate(self.stages):
            x, img = stage(x, img, self._stage_ws(ws, index), noise_mode=noise_mode,
                           noise_seed=fold_noise_seed(noise_seed, index))
        return at_least_float32(img)

    def run_blocks(self, ws, noise_mode: str = "random", with_attention: bool = False
                   ) -> Iterator[BlockOutput, None, Any]:
        """Yield every block's :class:`BlockOutput` in order; return the final image."""
        check_noise_mode(noise_mode)
        x = img = None
        for index, stage in enumerate(self.stages):
            x, img = yield from stage.run_blocks(
                x, img, self._stage_ws(ws, index), noise_mode, with_attention)
        return img

    def blocks_outputs(self, ws, noise_mode: str = "random") -> dict[str, tuple[Any, Any]]:
        """Every block's output: ``{"b{res}_{j}": (tokens [N, seq, C], img or None)}``."""
        return {block.name: (block.x, block.img) for block in self.run_blocks(ws, noise_mode)}

    def attention_maps(self, ws, layer_index: int, noise_mode: str = "random"):
        """Attention probabilities ``[N, heads, seq, seq_kv]`` of one encoder layer.

        Args:
            ws: ``[N, num_ws, w_dim]``.
            layer_index: index of the encoder layer over the whole network (0-based,
                in the order the layers run, i.e. the index of the w it reads); the
                StyleGAN2 blocks of Styleformer-C, which run last, have no attention.
            noise_mode: noise of the layers before it (it shapes their outputs).
        """
        config = self.config
        count = sum(layers for res, layers in zip(config.block_resolutions, config.num_layers,
                                                  strict=True) if config.is_styleformer(res))
        if not 0 <= layer_index < count:
            raise IndexError(f"layer_index must be in [0, {count}), got {layer_index}")
        for index, block in enumerate(self.run_blocks(ws, noise_mode, with_attention=True)):
            if index == layer_index:
                return block.attention
        raise AssertionError("unreachable: every block yields once")

    def compute_output_shape(self, ws_shape):
        res = self.config.resolution
        return (ws_shape[0], res, res, self.config.img_channels)

    def get_config(self):
        return {**super().get_config(), "config": self.config.to_dict(), "seed": self.seed}


@keras.saving.register_keras_serializable(package="sfkeras")
class Generator(keras.Model):
    """Styleformer generator ``z [N, z_dim]`` (and one-hot labels ``c [N, c_dim]``)
    ``-> images [N, res, res, channels]`` (NHWC).

    Attributes:
        config: the :class:`GeneratorConfig`.
        z_dim, c_dim, w_dim, num_ws, resolution: sizes (``c_dim`` 0: unconditional).
        mapping: :class:`MappingNetwork` (``G.mapping.w_avg`` is the tracked mean w).
        synthesis: :class:`SynthesisNetwork`.

    Args:
        config: the generator configuration (or its ``to_dict()``).
        seed: base seed of the synthesis noise (``None``: nondeterministic).
    """

    def __init__(self, config: GeneratorConfig | dict[str, Any], seed: int | None = None,
                 **kwargs):
        super().__init__(**kwargs)
        self.config = _as_config(config)
        self.seed = seed
        self.z_dim = self.config.z_dim
        self.c_dim = self.config.c_dim
        self.w_dim = self.config.w_dim
        self.num_ws = self.config.num_ws
        self.resolution = self.config.resolution
        # The mapping computes in its variables' dtype under any policy, as the original's
        # runs in float32 under mixed precision (its normalisation epsilon and w_avg need
        # it); the synthesis follows the policy.
        with global_dtype_policy(keras.config.dtype_policy().variable_dtype):
            self.mapping = MappingNetwork(
                self.w_dim, self.num_ws, c_dim=self.c_dim,
                num_layers=self.config.mapping_layers,
                w_avg_beta=self.config.w_avg_beta, name="mapping")
        self.synthesis = SynthesisNetwork(self.config, seed=seed, name="synthesis")
        self.build((None, self.z_dim))

    def build(self, z_shape):
        self.mapping.build(z_shape)
        self.synthesis.build((z_shape[0], self.num_ws, self.w_dim))
        self.built = True

    def call(self, z, c=None, truncation_psi=1.0, truncation_cutoff: int | None = None,
             noise_mode: str = "random", training: bool = False):
        """``(z, c) -> images``; in training mode the mapping updates ``w_avg``.

        Args:
            z: ``[N, z_dim]``.
            c: one-hot labels ``[N, c_dim]`` (conditional networks only).
            truncation_psi, truncation_cutoff: see :meth:`MappingNetwork.call`.
            noise_mode: see :meth:`SynthesisNetwork.call`.
        """
        ws = self.mapping(z, c, truncation_psi=truncation_psi, truncation_cutoff=truncation_cutoff,
                          update_w_avg=bool(training))
        return self.synthesis(ws, noise_mode=noise_mode)

    def compute_output_shape(self, z_shape):
        return (z_shape[0], self.resolution, self.resolution, self.config.img_channels)

    def get_config(self):
        return {"name": self.name, "trainable": self.trainable,
                "config": self.config.to_dict(), "seed": self.seed}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def parameter_counts(config: GeneratorConfig) -> dict[str, int]:
    """Trainable parameters of the generator ``config`` builds.

    Returns:
        ``{"mapping": ..., "synthesis": ..., "total": ...}`` (buffers such as
        ``w_avg`` and ``noise_const`` are not counted, as in the paper).
    """
    generator = Generator(config)
    counts = {
        part: sum(int(np.prod(v.shape)) for v in getattr(generator, part).trainable_weights)
        for part in ("mapping", "synthesis")
    }
    return {**counts, "total": counts["mapping"] + counts["synthesis"]}
