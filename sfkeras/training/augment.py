"""StyleGAN2-ADA's differentiable augmentation of every image the discriminator sees.

:class:`AugmentPipe` ports ``training/augment.py`` of StyleGAN2-ADA (Karras et al.,
"Training Generative Adversarial Networks with Limited Data", 2020) as Styleformer
uses it: the transforms of the ``blit``, ``geom`` and ``color`` groups, each applied
to each image independently with probability ``p`` (every strength multiplier is 1),
with the original's distributions:

=============  =================================================================
``xflip``      mirror x with probability 1/2
``rotate90``   rotate by ``k * 90`` degrees, ``k`` uniform in {0, 1, 2, 3}
``xint``       integer translation, uniform in ``±0.125`` of the image size, rounded
``scale``      isotropic scale ``2 ** N(0, 0.2)``
``rotate``     rotation uniform in ``±pi``, before *and* after ``aniso``, each with
               probability ``1 - sqrt(1 - p)`` so that P(any rotation) = ``p``
``aniso``      anisotropic scale ``(2 ** N(0, 0.2), 1 / that)``
``xfrac``      fractional translation ``N(0, 0.125)`` of the image size
``brightness`` add ``N(0, 0.2)``
``contrast``   scale by ``2 ** N(0, 0.5)``
``lumaflip``   Householder reflection of the luma axis with probability 1/2
``hue``        rotation about the luma axis, uniform in ``±pi``
``saturation`` scale the chroma by ``2 ** N(0, 1)``
=============  =================================================================

Geometric transforms (blit and geom) are composed into one inverse homogeneous matrix
per image, ``G_inv @ output_pixel -> input_pixel`` in pixel units centred on the
image, and executed once as the original does: reflect-pad by the bounding box of
the batch's mapped output corners (plus the filter support, at most ``size - 1``),
up-sample 2x with the ``sym6`` wavelet low-pass filter, bilinear sampling with zero
padding (``grid_sample``, ``align_corners=False``), then filter with ``sym6`` and
down-sample 2x back to the input size. Colour transforms are composed into one 4x4
matrix per image acting on homogeneous RGB. Departures from the original, none of
which changes a value beyond float rounding:

* The original's padding has a data-dependent size; here images are always padded
  by ``size - 1`` and everything outside the original's padded image is zeroed
  before and after up-sampling, so shapes are static (``tf.function``, XLA).
* Images that drew no transform of a group pass through that group untouched, and
  the geometric resampling is skipped altogether (``tf.cond``) when no image of the
  batch drew a geometric transform (not with ``branch_free``: XLA cannot compile the
  conditional's second-order gradient under R1, so the resampling then always runs).
  The original resamples every image, which is the identity up to float rounding
  for an identity matrix (``sym6`` is orthogonal, so its up-then-down is exact);
  the batch's padding is still computed from every image, as the original does.
  So ``p = 0`` is an exact identity and unaugmented images are cheap, and
  gradients are unchanged.
* Bilinear sampling is built from gathers and arithmetic, so automatic
  differentiation is exact to any order (R1 differentiates through it twice).
* Sampling coordinates are computed directly in pixel units instead of through
  ``affine_grid``'s normalised coordinates (the same numbers up to rounding).
* The saturation matrix is written ``I + (s - 1)(I - vv^T)`` instead of
  ``vv^T + (I - vv^T)s`` (algebraically equal; exactly ``I`` when ``s = 1``).

Not ported: the original's single-channel path (RGB only) and the transforms of
the ``augpipe`` choices our configuration does not offer (image-space filtering,
noise, cutout).
Random numbers come from TensorFlow (stateless draws from a per-call seed), so the
draws differ from PyTorch's while following the same distributions (and differ
between XLA and non-XLA execution of the same seed).

Even at ``p = 1`` an ``xflip`` or ``rotate90`` is not an exact pixel permutation,
in the original as here: a mirrored image goes through the asymmetric ``sym6``
filter pair mirrored, which amounts to a slight 1-D filtering (centre tap 0.965,
largest side taps -0.098 and 0.084; see the tests).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf

from sfkeras.config.augment import AugmentConfig

#: Transforms of each pipeline of ``augpipe_specs`` that Styleformer's configs use.
PIPELINES: dict[str, tuple[str, ...]] = {
    "blit": ("xflip", "rotate90", "xint"),
    "geom": ("scale", "rotate", "aniso", "xfrac"),
    "color": ("brightness", "contrast", "lumaflip", "hue", "saturation"),
}
PIPELINES["bgc"] = PIPELINES["blit"] + PIPELINES["geom"] + PIPELINES["color"]

_GEOMETRIC = frozenset(PIPELINES["blit"] + PIPELINES["geom"])
_COLOR = frozenset(PIPELINES["color"])

# Distribution parameters of the original (relative to the image size where spatial).
_XINT_MAX = 0.125
_SCALE_STD = 0.2
_ROTATE_MAX = 1.0  # fraction of a half turn: rotations uniform in +-pi
_ANISO_STD = 0.2
_XFRAC_STD = 0.125
_BRIGHTNESS_STD = 0.2
_CONTRAST_STD = 0.5
_HUE_MAX = 1.0
_SATURATION_STD = 1.0

#: Daubechies' least-asymmetric wavelet of order 6 (``sym6``): low-pass decomposition
#: filter, the original's anti-aliasing filter for geometric resampling.
SYM6 = (
    0.015404109327027373, 0.0034907120842174702, -0.11799011114819057, -0.048311742585633,
    0.4910559419267466, 0.787641141030194, 0.3379294217276218, -0.07263752278646252,
    -0.021060292512300564, 0.04472490177066578, 0.0017677118642428036, -0.007800708325034148,
)
_TAPS = len(SYM6)
#: Border (in input pixels) the sampled grid extends beyond the image: ``taps // 4``.
_GRID_PAD = _TAPS // 4


@keras.saving.register_keras_serializable(package="sfkeras")
class AugmentPipe(keras.layers.Layer):
    """Augment a batch of images ``[N, H, W, 3]`` in ``[-1, 1]`` with probability ``p``.

    The probability is the non-trainable scalar weight ``p`` (so checkpoints carry
    it; :class:`sfkeras.training.ada.AdaController` adjusts it). The pipeline uses
    ``min(p, max_p)``: Styleformer's ``aug_linformer`` clamps the probability the
    transforms see at 0.7 while the stored ``p`` itself may go higher.

    Args:
        transforms: names of the enabled transforms (any of ``PIPELINES["bgc"]``);
            they run in the original's fixed order whatever the order given here.
        p: initial value of the weight ``p``.
        max_p: upper bound on the probability the transforms use.
        seed: seed of the layer's random generator (``None``: nondeterministic). Each
            call without an explicit seed draws a fresh one from it.
        branch_free: always resample (no ``tf.cond`` skipping batches that drew no
            geometric transform), for steps compiled with XLA; same values.
    """

    def __init__(
        self,
        transforms: Sequence[str] = PIPELINES["bgc"],
        p: float = 0.0,
        max_p: float = 1.0,
        seed: int | None = None,
        branch_free: bool = False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        unknown = sorted(set(transforms) - set(PIPELINES["bgc"]))
        if unknown:
            raise ValueError(f"unknown transforms {unknown}; expected some of {PIPELINES['bgc']}")
        self.transforms = frozenset(transforms)
        self.initial_p = float(p)
        self.max_p = float(max_p)
        self.seed = seed
        self.branch_free = branch_free
        if seed is None:
            self._generator = tf.random.Generator.from_non_deterministic_state()
        else:
            self._generator = tf.random.Generator.from_seed(seed)

    def build(self, input_shape):
        if input_shape[-1] != 3:
            raise ValueError(f"AugmentPipe expects RGB images [N, H, W, 3], got {input_shape}")
        self.p = self.add_weight(
            shape=(),
            initializer=keras.initializers.Constant(self.initial_p),
            trainable=False,
            aggregation="only_first_replica",
            name="p",
        )

    def call(self, images, seed=None):
        """Augment ``images`` ``[N, H, W, 3]``; same shape and dtype out.

        Args:
            images: float images, static ``H`` and ``W``, any batch size.
            seed: optional ``[2]`` integer tensor; the same seed gives the same
                transforms (for a given batch size), so the pipeline is then a fixed
                differentiable function of ``images``.
        """
        if seed is None:
            seed = self._generator.make_seeds(1)[:, 0]
        dtype = images.dtype
        batch_size = tf.shape(images)[0]
        p = tf.clip_by_value(tf.cast(tf.convert_to_tensor(self.p), dtype), 0.0, self.max_p)
        if self.transforms & _GEOMETRIC:
            draws = _Draws(tf.random.experimental.stateless_fold_in(seed, 1), batch_size, dtype)
            g_inv = _geometric_matrix(draws, p, self.transforms, images.shape[1], images.shape[2])
            if self.branch_free:
                images = _where(draws.touched, _warp(images, g_inv), images)
            else:
                images = tf.cond(
                    tf.reduce_any(draws.touched),
                    lambda: _where(draws.touched, _warp(images, g_inv), images),
                    lambda: images,
                )
        if self.transforms & _COLOR:
            draws = _Draws(tf.random.experimental.stateless_fold_in(seed, 2), batch_size, dtype)
            color = _color_matrix(draws, p, self.transforms)
            recolored = tf.einsum("nhwc,ndc->nhwd", images, color[:, :3, :3])
            images = _where(draws.touched, recolored + color[:, None, None, :3, 3], images)
        return images

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            transforms=[name for name in PIPELINES["bgc"] if name in self.transforms],
            p=self.initial_p,
            max_p=self.max_p,
            seed=self.seed,
            branch_free=self.branch_free,
        )
        return config


def build_augment_pipe(
    config: AugmentConfig, image_shape: tuple[int, int, int], seed: int | None = None,
    *, branch_free: bool = False,
) -> AugmentPipe | None:
    """The built pipeline of ``config`` for images ``[N, *image_shape]`` (``None`` for ``noaug``).

    As in the original, mode ``noaug`` means no pipeline at all: D sees the images
    as they are. ``p`` starts at ``config.p`` (ADA's initial or the fixed value).
    ``branch_free``: see :class:`AugmentPipe` (for XLA-compiled training steps).
    """
    if config.mode == "noaug":
        return None
    pipe = AugmentPipe(PIPELINES[config.pipeline], p=config.p, max_p=config.max_p, seed=seed,
                       branch_free=branch_free)
    pipe.build((None, *image_shape))
    return pipe


class _Draws:
    """Per-image random numbers ``[N, *shape]``, each draw from its own stateless sub-seed.

    Attributes:
        touched: ``[N]`` bool, the images that drew at least one transform in
            :meth:`chosen` so far.
    """

    def __init__(self, seed, batch_size, dtype):
        self._seed = seed
        self._batch_size = batch_size
        self._dtype = dtype
        self._count = 0
        self.touched = tf.zeros([batch_size], tf.bool)

    def _next_seed(self):
        self._count += 1
        return tf.random.experimental.stateless_fold_in(self._seed, self._count)

    def uniform(self, *shape):
        """Uniform in ``[0, 1)``."""
        return tf.random.stateless_uniform(
            [self._batch_size, *shape], self._next_seed(), dtype=self._dtype
        )

    def normal(self, *shape):
        """Standard normal."""
        return tf.random.stateless_normal(
            [self._batch_size, *shape], self._next_seed(), dtype=self._dtype
        )

    def chosen(self, value, probability, identity):
        """``value`` (``[N]`` or ``[N, k]``) where ``u < probability``, else ``identity``."""
        hit = self.uniform() < probability
        self.touched = self.touched | hit
        if value.shape.rank == 2:
            hit = hit[:, None]
        return tf.where(hit, value, tf.cast(identity, self._dtype))


def _where(selected, augmented, images):
    """Per image: ``augmented`` where ``selected`` ``[N]``, else ``images`` unchanged."""
    return tf.where(selected[:, None, None, None], augmented, images)


def _matrix(rows, like):
    """Per-image matrices ``[N, rows, columns]``; numbers broadcast to the shape of ``like``."""
    entries = [
        entry if tf.is_tensor(entry) else tf.fill(tf.shape(like), tf.cast(entry, like.dtype))
        for row in rows
        for entry in row
    ]
    stacked = tf.stack(entries, axis=-1)
    return tf.reshape(stacked, tf.concat([tf.shape(like), [len(rows), len(rows[0])]], 0))


def _translate2d(tx, ty):
    return _matrix([[1, 0, tx], [0, 1, ty], [0, 0, 1]], tx)


def _scale2d(sx, sy):
    return _matrix([[sx, 0, 0], [0, sy, 0], [0, 0, 1]], sx)


def _rotate2d(theta):
    cos, sin = tf.cos(theta), tf.sin(theta)
    return _matrix([[cos, -sin, 0], [sin, cos, 0], [0, 0, 1]], theta)


def _geometric_matrix(draws: _Draws, p, transforms, height: int, width: int):
    """``G_inv`` ``[N, 3, 3]``: output pixel -> input pixel, in centred pixel units."""
    g_inv = None

    def then(matrix):
        nonlocal g_inv
        g_inv = matrix if g_inv is None else g_inv @ matrix

    pi = math.pi
    if "xflip" in transforms:
        flip = draws.chosen(tf.floor(draws.uniform() * 2), p, 0)
        then(_scale2d(1 - 2 * flip, tf.ones_like(flip)))
    if "rotate90" in transforms:
        quarter_turns = draws.chosen(tf.floor(draws.uniform() * 4), p, 0)
        then(_rotate2d(pi / 2 * quarter_turns))
    if "xint" in transforms:
        shift = draws.chosen((draws.uniform(2) * 2 - 1) * _XINT_MAX, p, 0)
        then(_translate2d(-tf.round(shift[:, 0] * width), -tf.round(shift[:, 1] * height)))
    if "scale" in transforms:
        scale = draws.chosen(2.0 ** (draws.normal() * _SCALE_STD), p, 1)
        then(_scale2d(1 / scale, 1 / scale))
    p_rotate = 1 - tf.sqrt(tf.clip_by_value(1 - p, 0.0, 1.0))  # P(pre or post) = p
    if "rotate" in transforms:
        theta = draws.chosen((draws.uniform() * 2 - 1) * pi * _ROTATE_MAX, p_rotate, 0)
        then(_rotate2d(theta))  # before anisotropic scaling
    if "aniso" in transforms:
        aniso = draws.chosen(2.0 ** (draws.normal() * _ANISO_STD), p, 1)
        then(_scale2d(1 / aniso, aniso))
    if "rotate" in transforms:
        theta = draws.chosen((draws.uniform() * 2 - 1) * pi * _ROTATE_MAX, p_rotate, 0)
        then(_rotate2d(theta))  # after anisotropic scaling
    if "xfrac" in transforms:
        shift = draws.chosen(draws.normal(2) * _XFRAC_STD, p, 0)
        then(_translate2d(-shift[:, 0] * width, -shift[:, 1] * height))
    return g_inv


def _color_matrix(draws: _Draws, p, transforms):
    """``C`` ``[N, 4, 4]``: homogeneous RGB in -> RGB out."""
    dtype = p.dtype
    identity = tf.eye(4, dtype=dtype)
    luma = tf.constant([1, 1, 1, 0], dtype) / math.sqrt(3)  # luma axis v
    luma_outer = luma[:, None] * luma[None, :]  # v v^T
    color = None

    def then(matrix):
        nonlocal color
        color = matrix if color is None else matrix @ color

    if "brightness" in transforms:
        shift = draws.chosen(draws.normal() * _BRIGHTNESS_STD, p, 0)
        then(_matrix([[1, 0, 0, shift], [0, 1, 0, shift], [0, 0, 1, shift], [0, 0, 0, 1]], shift))
    if "contrast" in transforms:
        gain = draws.chosen(2.0 ** (draws.normal() * _CONTRAST_STD), p, 1)
        then(_matrix([[gain, 0, 0, 0], [0, gain, 0, 0], [0, 0, gain, 0], [0, 0, 0, 1]], gain))
    if "lumaflip" in transforms:
        flip = draws.chosen(tf.floor(draws.uniform() * 2), p, 0)
        then(identity - 2 * luma_outer * flip[:, None, None])  # Householder reflection
    if "hue" in transforms:
        theta = draws.chosen((draws.uniform() * 2 - 1) * math.pi * _HUE_MAX, p, 0)
        then(_rotate_about_luma(theta))
    if "saturation" in transforms:
        gain = draws.chosen(2.0 ** (draws.normal() * _SATURATION_STD), p, 1)
        then(identity + (gain[:, None, None] - 1) * (identity - luma_outer))
    return color


def _rotate_about_luma(theta):
    """Rotation by ``theta`` ``[N]`` about ``(1, 1, 1) / sqrt(3)`` as ``[N, 4, 4]`` (Rodrigues)."""
    v = 1 / math.sqrt(3)
    cos, sin = tf.cos(theta), tf.sin(theta)
    a = v * v * (1 - cos)  # v_i v_j (1 - cos)
    return _matrix(
        [
            [a + cos, a - v * sin, a + v * sin, 0],
            [a + v * sin, a + cos, a - v * sin, 0],
            [a - v * sin, a + v * sin, a + cos, 0],
            [0, 0, 0, 1],
        ],
        theta,
    )


def _warp(images, g_inv):
    """Resample ``images`` ``[N, H, W, C]`` so that output pixel ``q`` shows input ``G_inv q``.

    The original reflect-pads by the batch's bounding box (a data-dependent shape),
    2x up-samples with ``sym6`` (zeros beyond the padded image), samples bilinearly
    (zeros outside the up-sampled image), filters with ``sym6`` and 2x down-samples.
    Here the padding is always the largest the original can use, ``size - 1``, and
    everything outside the original's padded image is zeroed before and after
    up-sampling: the same numbers, with static shapes. Padding, masking and
    up-sampling form one linear map per axis, applied as a matrix product, as is
    the down-sampling.
    """
    _, height, width, _ = images.shape
    dtype = images.dtype
    cx, cy = (width - 1) / 2, (height - 1) / 2

    # The original's margin: what the mapped output corners need plus the filter support.
    corners = tf.constant([[-cx, -cy, 1], [cx, -cy, 1], [cx, cy, 1], [-cx, cy, 1]], dtype)
    mapped = tf.reshape(tf.einsum("nij,kj->nki", g_inv[:, :2, :], corners), [-1, 2])
    margin = tf.concat([tf.reduce_max(-mapped, axis=0), tf.reduce_max(mapped, axis=0)], 0)
    margin = margin + tf.constant([2 * _GRID_PAD - cx, 2 * _GRID_PAD - cy] * 2, dtype)
    margin = tf.clip_by_value(margin, 0.0, tf.constant([width - 1, height - 1] * 2, dtype))
    margin_x0, margin_y0, margin_x1, margin_y1 = tf.unstack(tf.cast(tf.math.ceil(margin), tf.int32))

    images = tf.transpose(images, [0, 3, 1, 2])  # [N, C, H, W]: resample by matrix products
    up_y = _pad_and_upsample_matrix(height, margin_y0, margin_y1, dtype)
    up_x = _pad_and_upsample_matrix(width, margin_x0, margin_x1, dtype)
    images = tf.matmul(tf.matmul(up_y, images), up_x, transpose_b=True)

    # The same map in the coordinates of the up-sampled image, whose samples sit half
    # a sample off the doubled grid (sym6's delay): T(-1/2) S(2) G_inv S(1/2) T(1/2).
    to_up = tf.constant([[2, 0, -0.5], [0, 2, -0.5], [0, 0, 1]], dtype)
    from_up = tf.constant([[0.5, 0, 0.25], [0, 0.5, 0.25], [0, 0, 1]], dtype)
    images = _bilinear_sample(
        images, to_up @ g_inv @ from_up, 2 * (height + 2 * _GRID_PAD), 2 * (width + 2 * _GRID_PAD)
    )

    down_y = tf.constant(_downsample_matrix(height), dtype)
    down_x = tf.constant(_downsample_matrix(width), dtype)
    images = tf.matmul(tf.matmul(down_y, images), down_x, transpose_b=True)
    return tf.transpose(images, [0, 2, 3, 1])


def _pad_and_upsample_matrix(length: int, margin0, margin1, dtype):
    """``[2 (3 length - 2), length]``: reflect-pad, keep the margins, 2x up-sample, keep.

    Pads by ``length - 1`` on both sides but keeps only ``margin0`` / ``margin1``
    (scalar tensors, the original's padding) of it, and zeroes what up-sampling
    spreads beyond them, which the original's smaller padded image does not have.
    """
    pad = length - 1
    source = np.abs(np.arange(-pad, length + pad))
    reflect = np.eye(length)[np.where(source > pad, 2 * pad - source, source)]
    padded_length = len(source)
    padded = tf.range(padded_length)
    kept = (padded >= pad - margin0) & (padded < pad + length + margin1)
    upsampled = tf.range(2 * padded_length)
    kept_up = (upsampled >= 2 * (pad - margin0)) & (upsampled < 2 * (pad + length + margin1))
    upsample = tf.constant(_upsample_matrix(padded_length), dtype) * tf.cast(kept, dtype)[None, :]
    return tf.cast(kept_up, dtype)[:, None] * (upsample @ tf.constant(reflect, dtype))


def _upsample_matrix(length: int) -> np.ndarray:
    """``upfirdn2d.upsample2d(f=sym6)`` along one axis as ``[2 length, length]``.

    Zero insertion, zero padding ``(6, 5)`` and convolution with the normalised filter
    times 2: output ``n`` takes input ``i`` with tap ``5 + n - 2 i``.
    """
    taps = 2 * np.asarray(SYM6) / np.sum(SYM6)
    delay = (_TAPS - 2) // 2  # 5
    tap = delay + np.arange(2 * length)[:, None] - 2 * np.arange(length)[None, :]
    return np.where((tap >= 0) & (tap < _TAPS), taps[np.clip(tap, 0, _TAPS - 1)], 0.0)


def _downsample_matrix(length: int) -> np.ndarray:
    """``downsample2d(f=sym6, padding=-6, flip_filter=True)`` as ``[length, 2 length + 12]``.

    Crops one sample on each side, correlates with the normalised filter and keeps
    every other sample: output ``j`` takes input ``q`` with tap ``q - 1 - 2 j``.
    """
    taps = np.asarray(SYM6) / np.sum(SYM6)
    tap = np.arange(2 * length + 4 * _GRID_PAD)[None, :] - 1 - 2 * np.arange(length)[:, None]
    return np.where((tap >= 0) & (tap < _TAPS), taps[np.clip(tap, 0, _TAPS - 1)], 0.0)


def _bilinear_sample(images, g_inv, grid_height: int, grid_width: int):
    """``grid_sample`` (bilinear, zero padding, ``align_corners=False``) of ``[N, C, h, w]``.

    Output pixel ``(i, j)`` of the ``[N, C, grid_height, grid_width]`` result has
    centred coordinates ``(j + 0.5 - grid_width / 2, i + 0.5 - grid_height / 2)``
    and shows the input at ``g_inv`` of them (centred coordinates of the input).
    The four taps are gathered, so derivatives of any order are exact.
    """
    _, channels, in_height, in_width = images.shape
    dtype = images.dtype
    xs = np.arange(grid_width) + 0.5 - grid_width / 2
    ys = np.arange(grid_height) + 0.5 - grid_height / 2
    grid_x, grid_y = np.meshgrid(xs, ys)
    grid = np.stack([grid_x.ravel(), grid_y.ravel(), np.ones(grid_x.size)], axis=1)  # [K, 3]
    source = tf.einsum("nij,kj->nik", g_inv[:, :2, :], tf.constant(grid, dtype))  # [N, xy, K]
    source_x = source[:, 0] + (in_width / 2 - 0.5)
    source_y = source[:, 1] + (in_height / 2 - 0.5)

    x0, y0 = tf.floor(source_x), tf.floor(source_y)
    frac_x, frac_y = source_x - x0, source_y - y0
    x0, y0 = tf.cast(x0, tf.int32), tf.cast(y0, tf.int32)
    indices, weights = [], []
    for dy, weight_y in ((0, 1 - frac_y), (1, frac_y)):
        for dx, weight_x in ((0, 1 - frac_x), (1, frac_x)):
            x, y = x0 + dx, y0 + dy
            inside = (x >= 0) & (x < in_width) & (y >= 0) & (y < in_height)
            x, y = tf.clip_by_value(x, 0, in_width - 1), tf.clip_by_value(y, 0, in_height - 1)
            indices.append(y * in_width + x)
            weights.append(weight_x * weight_y * tf.cast(inside, dtype))
    # One flat gather: element (n, c, tap, k) sits at (n C + c) h w + index[n, tap, k].
    planes = tf.range(tf.shape(images)[0] * channels) * (in_height * in_width)
    planes = tf.reshape(planes, [-1, channels, 1, 1])
    taps = tf.gather(tf.reshape(images, [-1]), planes + tf.stack(indices, axis=1)[:, None])
    sampled = tf.reduce_sum(taps * tf.stack(weights, axis=1)[:, None], axis=2)  # [N, C, K]
    return tf.reshape(sampled, [-1, channels, grid_height, grid_width])
