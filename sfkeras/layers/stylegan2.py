"""StyleGAN2 synthesis layers (Styleformer-C's blocks above ``styleformer_max_resolution``).

NHWC throughout. The functions follow StyleGAN2-ADA's ``training/networks.py``
(``modulated_conv2d``, ``SynthesisLayer``, ``ToRGBLayer``, ``SynthesisBlock`` with the
``skip`` architecture) in float32:

- The convolution weight ``[kh, kw, in, out]`` is stored as drawn from ``N(0, 1)`` and
  used without a weight gain: demodulation normalises every output channel anyway
  (the original's pre-normalisation against float16 overflow, which demodulation
  cancels, is applied only in float16 and left out here).
- Styles come from an :class:`~sfkeras.layers.EqualizedDense` affine with bias
  initialised to 1; ToRGB multiplies its styles by ``1 / sqrt(in * kh * kw)`` instead
  of demodulating.
- The original fuses modulation into per-sample kernels (a grouped convolution) at
  inference. Both forms are here (:func:`modulated_conv2d`); the layers default to the
  unfused one, which TensorFlow runs 3.5x (``up=1``) to 5x (``up=2``) faster on CPU:
  its grouped convolutions go through XLA, and transposed convolutions, which the
  up-sampling layers use, cannot be grouped.
- A 3x3 convolution that up-samples by 2 *convolves* (the kernel is flipped relative
  to Keras' correlation), exactly like the original's ``flip_weight=False``, so that
  imported weights compute the same function.
"""

from __future__ import annotations

import math
from collections.abc import Generator
from typing import Any

import keras
from keras import ops

from sfkeras.layers.dense import EqualizedDense
from sfkeras.layers.modulation import DEMODULATION_EPSILON
from sfkeras.layers.noise import check_noise_mode, fold_noise_seed, normal_noise
from sfkeras.layers.stage import BlockOutput, exhaust
from sfkeras.ops import at_least_float32, bias_act, upfirdn2d, upsample_2d
from sfkeras.ops.conv import conv2d_resample
from sfkeras.ops.fir import FILTER_TAPS


def modulated_conv2d(x, kernel, styles, *, up: int = 1, demodulate: bool = True,
                     fused: bool = False):
    """Style-modulated convolution with optional demodulation and 2x up-sampling.

    Computes ``conv(x, kernel * s_n) * d_n`` for every sample ``n`` with
    ``d_n[o] = rsqrt(sum_{h,w,i} (kernel[h, w, i, o] * s_n[i])^2 + 1e-8)`` (``d_n = 1``
    without demodulation). "Same" padding; with ``up=2`` the input is first up-sampled
    with the [1, 3, 3, 1] filter (StyleGAN2's ``conv2d_resample``, padding applied once
    with respect to the up-sampled image) and the kernel convolves (is flipped).

    Both forms compute the same function up to float rounding:

    - fused: one grouped convolution with per-sample kernels ``[N, kh, kw, in, out]``
      (needs a static batch size; with ``up=2`` it filters before convolving, since
      transposed convolutions cannot be grouped: 4x the multiply-adds);
    - unfused: modulate the activations, convolve with the shared kernel, multiply the
      outputs by ``d_n``.

    Args:
        x: ``[N, H, W, in]`` activations.
        kernel: ``[kh, kw, in, out]`` shared weight (odd ``kh == kw``).
        styles: ``[N, in]`` modulation coefficients.
        up: 1 or 2.
        demodulate: normalise every output channel of the modulated kernel.
        fused: use the grouped convolution.

    Returns:
        ``[N, H * up, W * up, out]``.
    """
    if up not in (1, 2):
        raise ValueError(f"up must be 1 or 2, got {up}")
    if up == 2:
        kernel = ops.flip(kernel, axis=(0, 1))
    styles = ops.cast(styles, x.dtype)
    demod = None
    if demodulate:  # sum_{h,w,i} (kernel * s)^2 = s^2 @ sum_{h,w} kernel^2, >= float32
        kernel_energy = ops.sum(ops.square(at_least_float32(kernel)), axis=(0, 1))
        demod = ops.rsqrt(ops.matmul(ops.square(at_least_float32(styles)), kernel_energy)
                          + DEMODULATION_EPSILON)
        demod = ops.cast(demod, x.dtype)  # [N, out]
    if fused:
        return _fused_modulated_conv2d(x, kernel, styles, demod, up=up)
    x = ops.multiply(x, styles[:, None, None, :])  # x may be NumPy: not `*` (PyTorch)
    x = _conv2d(x, kernel, up=up)
    if demod is not None:
        x = x * demod[:, None, None, :]
    return x


def _fused_modulated_conv2d(x, kernel, styles, demod, *, up: int):
    """Per-sample kernels as one grouped convolution (the batch folded into channels)."""
    batch, height, width, in_channels = x.shape
    if batch is None:
        raise ValueError("the fused modulated convolution needs a static batch size; "
                         "use fused=False for a dynamic batch")
    kh, kw, _, out_channels = kernel.shape
    weights = ops.multiply(kernel[None], styles[:, None, None, :, None])  # [N, kh, kw, in, out]
    if demod is not None:
        weights = weights * demod[:, None, None, None, :]
    weights = ops.reshape(ops.transpose(weights, (1, 2, 3, 0, 4)),
                          (kh, kw, in_channels, batch * out_channels))
    x = ops.reshape(ops.transpose(x, (1, 2, 0, 3)), (1, height, width, batch * in_channels))
    x = _conv2d(x, weights, up=up)  # grouped: the kernel sees `in` of `N * in` channels
    x = ops.reshape(x, (height * up, width * up, batch, out_channels))
    return ops.transpose(x, (2, 0, 1, 3))


def _conv2d(x, kernel, *, up: int):
    """'Same' correlation of ``x`` with ``kernel``, after [1, 3, 3, 1] 2x up-sampling if up=2.

    The channel count of ``x`` may be a multiple of the kernel's input channels (a
    grouped convolution, as in ``keras.ops.conv``).
    """
    padding = kernel.shape[0] // 2
    if up == 1 or x.shape[-1] == kernel.shape[2]:
        return conv2d_resample(x, kernel, up=up, padding=padding)
    # Transposed convolutions cannot be grouped: take conv2d_resample's reference path
    # (zero-stuff, pad once for filter and kernel, filter with gain 4, valid convolution).
    pad0 = (FILTER_TAPS + 1) // 2 + padding
    pad1 = (FILTER_TAPS - 2) // 2 + padding
    x = upfirdn2d(x, up=2, padding=(pad0, pad1, pad0, pad1), gain=4.0)
    return ops.conv(x, kernel, padding="valid")


@keras.saving.register_keras_serializable(package="sfkeras")
class SynthesisLayer(keras.layers.Layer):
    """Modulated 3x3 convolution, per-pixel noise, bias, leaky ReLU (StyleGAN2).

    ``y = clamp(lrelu(modconv(x, w) + noise * noise_strength + bias) * sqrt(2), conv_clamp)``
    (the original's ``act_clamp = conv_clamp * gain`` with ``gain = 1`` in the skip
    architecture).

    Shapes: ``x [N, R/up, R/up, in]``, ``w [N, w_dim]`` -> ``[N, R, R, filters]`` with
    ``R = resolution``.

    Weights: ``affine`` (styles, bias init 1), ``kernel [k, k, in, filters] ~ N(0, 1)``,
    ``bias [filters]``, ``noise_const [R, R] ~ N(0, 1)`` (fixed, not trained) and
    ``noise_strength []`` (init 0).

    Args:
        filters: output channels.
        resolution: output resolution ``R`` (the noise map's size).
        kernel_size: odd convolution size.
        up: 1, or 2 to up-sample the input first.
        use_noise: add per-pixel noise.
        conv_clamp: clamp of the output, ``None`` for none.
        seed: seed of the generator of ``noise_mode="random"`` noise (``None``: random).
    """

    def __init__(self, filters: int, resolution: int, *, kernel_size: int = 3, up: int = 1,
                 use_noise: bool = True, conv_clamp: float | None = None,
                 seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.filters = filters
        self.resolution = resolution
        self.kernel_size = kernel_size
        self.up = up
        self.use_noise = use_noise
        self.conv_clamp = conv_clamp
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed, name="noise_seed")

    def build(self, x_shape, w_shape):
        in_channels = x_shape[-1]
        self.affine = EqualizedDense(in_channels, bias_init=1.0, name="affine")
        self.affine.build(w_shape)
        self.kernel = self.add_weight(
            name="kernel", shape=(self.kernel_size, self.kernel_size, in_channels, self.filters),
            initializer=keras.initializers.RandomNormal(stddev=1.0))
        self.bias = self.add_weight(name="bias", shape=(self.filters,), initializer="zeros")
        if self.use_noise:
            self.noise_const = self.add_weight(
                name="noise_const", shape=(self.resolution, self.resolution),
                initializer=keras.initializers.RandomNormal(stddev=1.0), trainable=False)
            self.noise_strength = self.add_weight(name="noise_strength", shape=(),
                                                  initializer="zeros")

    def call(self, x, w, noise_mode: str = "random", fused_modconv: bool = False,
             noise_seed=None):
        """Apply the layer.

        Args:
            x: ``[N, R/up, R/up, in]``.
            w: ``[N, w_dim]``.
            noise_mode: ``"random"`` (fresh N(0, 1) per pixel), ``"const"`` (the stored
                ``noise_const``) or ``"none"``; scaled by ``noise_strength``.
            fused_modconv: use the fused form of :func:`modulated_conv2d`.
            noise_seed: int ``[2]`` seed of ``"random"`` noise (stateless); ``None``:
                the layer's seed generator.
        """
        check_noise_mode(noise_mode)
        styles = self.affine(w)
        x = modulated_conv2d(x, self.kernel, styles, up=self.up, fused=fused_modconv)
        if self.use_noise and noise_mode == "random":
            shape = (ops.shape(x)[0], self.resolution, self.resolution, 1)
            noise = normal_noise(shape, self.compute_dtype, self.seed_generator, noise_seed)
            x = x + noise * self.noise_strength
        elif self.use_noise and noise_mode == "const":
            x = x + (self.noise_const * self.noise_strength)[None, :, :, None]
        return bias_act(x, self.bias, activation="lrelu", clamp=self.conv_clamp)

    def compute_output_shape(self, x_shape, w_shape):
        return (x_shape[0], self.resolution, self.resolution, self.filters)

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "resolution": self.resolution,
            "kernel_size": self.kernel_size,
            "up": self.up,
            "use_noise": self.use_noise,
            "conv_clamp": self.conv_clamp,
            "seed": self.seed,
        }


@keras.saving.register_keras_serializable(package="sfkeras")
class ToRGB(keras.layers.Layer):
    """Modulated 1x1 convolution without demodulation, plus bias (StyleGAN2's ToRGB).

    ``y = clamp(conv1x1(x, kernel * s / sqrt(in)) + bias, conv_clamp)`` with
    ``s = affine(w)`` (bias init 1). (Styleformer's own ToRGB, which demodulates, is
    :class:`sfkeras.layers.torgb.DemodulatedToRGB`.)

    Shapes: ``x [N, H, W, in]``, ``w [N, w_dim]`` -> ``[N, H, W, channels]``.

    Args:
        channels: image channels.
        conv_clamp: clamp of the output, ``None`` for none.
    """

    def __init__(self, channels: int = 3, *, conv_clamp: float | None = None, **kwargs):
        super().__init__(**kwargs)
        self.channels = channels
        self.conv_clamp = conv_clamp

    def build(self, x_shape, w_shape):
        in_channels = x_shape[-1]
        self.weight_gain = 1.0 / math.sqrt(in_channels)
        self.affine = EqualizedDense(in_channels, bias_init=1.0, name="affine")
        self.affine.build(w_shape)
        self.kernel = self.add_weight(
            name="kernel", shape=(1, 1, in_channels, self.channels),
            initializer=keras.initializers.RandomNormal(stddev=1.0))
        self.bias = self.add_weight(name="bias", shape=(self.channels,), initializer="zeros")

    def call(self, x, w, fused_modconv: bool = False):
        """``x [N, H, W, in]``, ``w [N, w_dim]`` -> ``[N, H, W, channels]``."""
        styles = self.affine(w) * self.weight_gain
        x = modulated_conv2d(x, self.kernel, styles, demodulate=False, fused=fused_modconv)
        return bias_act(x, self.bias, clamp=self.conv_clamp)

    def compute_output_shape(self, x_shape, w_shape):
        return (*x_shape[:-1], self.channels)

    def get_config(self):
        return {**super().get_config(), "channels": self.channels, "conv_clamp": self.conv_clamp}


@keras.saving.register_keras_serializable(package="sfkeras")
class SynthesisBlock(keras.layers.Layer):
    """Two synthesis layers and, optionally, a ToRGB (StyleGAN2's skip architecture).

    ``conv0`` (up-sampling by 2 if ``up``) and ``conv1`` read ``ws[:, 0]`` and
    ``ws[:, 1]``; with ``torgb`` the block up-samples the incoming image by 2
    (:func:`sfkeras.ops.upsample_2d`) and adds ``ToRGB(x, ws[:, 2])``. Several blocks can
    share a resolution: only the first up-samples and only the last has a ToRGB.

    Shapes: ``x [N, R/2, R/2, in]`` (``[N, R, R, in]`` without ``up``),
    ``img [N, R/2, R/2, img_channels]`` or ``None``, ``ws [N, num_ws, w_dim]`` ->
    ``(x [N, R, R, filters], img)`` with ``img [N, R, R, img_channels]`` (returned
    unchanged without ``torgb``).

    Args:
        filters: channels of both convolutions.
        resolution: output resolution ``R``.
        up: whether ``conv0`` up-samples.
        torgb: whether the block ends with a ToRGB and updates the image.
        img_channels: image channels.
        conv_clamp: clamp of every layer's output, ``None`` for none.
        seed: base seed of the layers' noise (``conv0`` uses ``seed``, ``conv1``
            ``seed + 1``; ``None``: random).
    """

    def __init__(self, filters: int, resolution: int, *, up: bool = True, torgb: bool = True,
                 img_channels: int = 3, conv_clamp: float | None = None,
                 seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.filters = filters
        self.resolution = resolution
        self.up = up
        self.has_torgb = torgb
        self.img_channels = img_channels
        self.conv_clamp = conv_clamp
        self.seed = seed
        self.conv0 = SynthesisLayer(filters, resolution, up=2 if up else 1, conv_clamp=conv_clamp,
                                    seed=seed, name="conv0")
        self.conv1 = SynthesisLayer(filters, resolution, conv_clamp=conv_clamp,
                                    seed=None if seed is None else seed + 1, name="conv1")
        self.torgb = ToRGB(img_channels, conv_clamp=conv_clamp, name="torgb") if torgb else None

    @property
    def num_ws(self) -> int:
        """ws the block reads: one per convolution plus one for its ToRGB."""
        return 3 if self.has_torgb else 2

    def build(self, x_shape, img_shape, ws_shape):
        w_shape = (ws_shape[0], ws_shape[-1])
        self.conv0.build(x_shape, w_shape)
        x_shape = self.conv0.compute_output_shape(x_shape, w_shape)
        self.conv1.build(x_shape, w_shape)
        if self.torgb is not None:
            self.torgb.build(x_shape, w_shape)

    def call(self, x, img, ws, noise_mode: str = "random", fused_modconv: bool = False,
             noise_seed=None):
        """Apply the block; ``noise_mode``, ``fused_modconv`` and ``noise_seed`` (folded
        per layer) as in :class:`SynthesisLayer`."""
        if ws.shape[1] != self.num_ws:
            raise ValueError(f"{self.name} reads {self.num_ws} ws, got ws of shape {ws.shape}")
        x = self.conv0(x, ws[:, 0], noise_mode=noise_mode, fused_modconv=fused_modconv,
                       noise_seed=fold_noise_seed(noise_seed, 0))
        x = self.conv1(x, ws[:, 1], noise_mode=noise_mode, fused_modconv=fused_modconv,
                       noise_seed=fold_noise_seed(noise_seed, 1))
        if self.torgb is not None:
            rgb = self.torgb(x, ws[:, 2], fused_modconv=fused_modconv)
            img = rgb if img is None else upsample_2d(img) + rgb
        return x, img

    def compute_output_shape(self, x_shape, img_shape, ws_shape):
        res = self.resolution
        img_out = (x_shape[0], res, res, self.img_channels) if self.has_torgb else img_shape
        return (x_shape[0], res, res, self.filters), img_out

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "resolution": self.resolution,
            "up": self.up,
            "torgb": self.has_torgb,
            "img_channels": self.img_channels,
            "conv_clamp": self.conv_clamp,
            "seed": self.seed,
        }


@keras.saving.register_keras_serializable(package="sfkeras")
class StyleGAN2Stage(keras.layers.Layer):
    """The StyleGAN2 blocks of one resolution of Styleformer-C.

    Follows the stage protocol of :mod:`sfkeras.layers.stage`, so the
    synthesis network can put it after a Styleformer stage: the first block up-samples
    the previous stage's NHWC map ``[N, R/2, R/2, in_channels]``, the last one ends with
    the ToRGB. Block ``k`` reads ``ws[:, 2k]`` and ``ws[:, 2k + 1]``; the ToRGB reads
    ``ws[:, 2 * num_blocks]`` (the next stage's first index, as in StyleGAN2), so the
    stage takes ``2 * num_blocks + 1`` ws.

    Args:
        resolution: output resolution ``R``.
        in_channels: channels of the incoming feature map.
        filters: channels of every convolution.
        num_blocks: blocks of two convolutions.
        img_channels: image channels.
        conv_clamp: clamp of every layer output, or ``None``.
        seed: base seed of the layers' noise (block ``k`` uses ``seed + 2k``).
    """

    def __init__(self, resolution: int, in_channels: int, filters: int, num_blocks: int, *,
                 img_channels: int = 3, conv_clamp: float | None = None,
                 seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.resolution = resolution
        self.in_channels = in_channels
        self.filters = filters
        self.num_blocks = num_blocks
        self.img_channels = img_channels
        self.conv_clamp = conv_clamp
        self.seed = seed
        self.blocks = [
            SynthesisBlock(filters, resolution, up=k == 0, torgb=k == num_blocks - 1,
                           img_channels=img_channels, conv_clamp=conv_clamp,
                           seed=None if seed is None else seed + 2 * k, name=f"block{k}")
            for k in range(num_blocks)
        ]

    @property
    def num_ws(self) -> int:
        """ws the stage reads: two per block plus the ToRGB's."""
        return 2 * self.num_blocks + 1

    def build(self, ws_shape):
        half = self.resolution // 2
        x_shape = (ws_shape[0], half, half, self.in_channels)
        img_shape = (ws_shape[0], half, half, self.img_channels)
        for block in self.blocks:
            block_ws_shape = (ws_shape[0], block.num_ws, ws_shape[-1])
            block.build(x_shape, img_shape, block_ws_shape)
            x_shape = (ws_shape[0], self.resolution, self.resolution, self.filters)

    def run_blocks(self, x, img, ws, noise_mode: str = "random", with_attention: bool = False,
                   noise_seed=None) -> Generator[BlockOutput, None, tuple[Any, Any]]:
        """Run the stage block by block.

        Args:
            x: previous feature map ``[N, R/2, R/2, in_channels]``.
            img: running image ``[N, R/2, R/2, img_channels]`` or ``None``.
            ws: ``[N, num_ws, w_dim]``.
            noise_mode: see :class:`SynthesisLayer`.
            with_attention: accepted for the stage protocol; StyleGAN2 blocks have no
                attention (:attr:`BlockOutput.attention` stays ``None``).
            noise_seed: int ``[2]`` seed of ``"random"`` noise, folded per block
                (``None``: the layers' seed generators).

        Yields:
            One :class:`BlockOutput` per block, named ``b{R}_{k}``, with the block's
            output as tokens ``[N, R*R, filters]``.

        Returns:
            ``(x [N, R, R, filters], img [N, R, R, img_channels])``.
        """
        for k, block in enumerate(self.blocks):
            x, img = block(x, img, ws[:, 2 * k : 2 * k + block.num_ws], noise_mode=noise_mode,
                           noise_seed=fold_noise_seed(noise_seed, k))
            tokens = ops.reshape(x, (-1, self.resolution * self.resolution, self.filters))
            yield BlockOutput(f"b{self.resolution}_{k}", tokens, img)
        return x, img

    def call(self, x, img, ws, noise_mode: str = "random", noise_seed=None):
        """``(x, img) -> (x, img)`` for the whole stage; see :meth:`run_blocks`."""
        return exhaust(self.run_blocks(x, img, ws, noise_mode, noise_seed=noise_seed))

    def get_config(self):
        return {
            **super().get_config(),
            "resolution": self.resolution,
            "in_channels": self.in_channels,
            "filters": self.filters,
            "num_blocks": self.num_blocks,
            "img_channels": self.img_channels,
            "conv_clamp": self.conv_clamp,
            "seed": self.seed,
        }
