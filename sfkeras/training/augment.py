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
matrix per image acting on homogeneous RGB. The only departures from the original:

* The whole geometric resampling is skipped (``tf.cond``) when every image of the
  batch drew the identity. The original resamples anyway, which is the identity up
  to float rounding (``sym6`` is orthogonal, so its up-then-down is exact), so this
  changes no value beyond rounding and no gradient; it makes ``p = 0`` an exact
  identity and unaugmented batches cheap.
* Bilinear sampling is built from gathers and arithmetic, so automatic
  differentiation is exact to any order (R1 differentiates through it twice).
* Sampling coordinates are computed directly in pixel units instead of through
  ``affine_grid``'s normalised coordinates (the same numbers up to rounding).
* The saturation matrix is written ``I + (s - 1)(I - vv^T)`` instead of
  ``vv^T + (I - vv^T)s`` (algebraically equal; exactly ``I`` when ``s = 1``).
* Only RGB images; the original's single-channel path is not ported.
* Random numbers come from TensorFlow (stateless draws from a per-call seed), so
  the draws differ from PyTorch's while following the same distributions.

Even at ``p = 1`` an ``xflip`` or ``rotate90`` is not an exact pixel permutation,
in the original as here: a mirrored image goes through the asymmetric ``sym6``
filter pair mirrored, which is slightly not the identity (about 1e-3 of the signal;
see the tests).
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
    """

    def __init__(
        self,
        transforms: Sequence[str] = PIPELINES["bgc"],
        p: float = 0.0,
        max_p: float = 1.0,
        seed: int | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        unknown = sorted(set(transforms) - set(PIPELINES["bgc"]))
        if unknown:
            raise ValueError(f"unknown transforms {unknown}; expected names from {PIPELINES['bgc']}")
        self.transforms = frozenset(transforms)
        self.initial_p = float(p)
        self.max_p = float(max_p)
        self.seed = seed
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
        draws = _Draws(seed, tf.shape(images)[0], dtype)
        p = tf.clip_by_value(tf.cast(tf.convert_to_tensor(self.p), dtype), 0.0, self.max_p)
        if self.transforms & _GEOMETRIC:
            height, width = images.shape[1], images.shape[2]
            g_inv = _geometric_matrix(draws, p, self.transforms, height, width)
            untouched = tf.reduce_all(tf.equal(g_inv, tf.eye(3, dtype=dtype)))
            images = tf.cond(untouched, lambda: images, lambda: _warp(images, g_inv))
        if self.transforms & _COLOR:
            color = _color_matrix(draws, p, self.transforms)
            images = tf.einsum("nhwc,ndc->nhwd", images, color[:, :3, :3])
            images = images + color[:, None, None, :3, 3]
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
        )
        return config


def build_augment_pipe(
    config: AugmentConfig, image_shape: tuple[int, int, int], seed: int | None = None
) -> AugmentPipe | None:
    """The built pipeline of ``config`` for images ``[N, *image_shape]`` (``None`` for ``noaug``).

    As in the original, mode ``noaug`` means no pipeline at all: D sees the images
    as they are. ``p`` starts at ``config.p`` (ADA's initial or the fixed value).
    """
    if config.mode == "noaug":
        return None
    pipe = AugmentPipe(PIPELINES[config.pipeline], p=config.p, max_p=config.max_p, seed=seed)
    pipe.build((None, *image_shape))
    return pipe


class _Draws:
    """Per-image random numbers ``[N, *shape]``, each draw from its own stateless sub-seed."""

    def __init__(self, seed, batch_size, dtype):
        self._seed = seed
        self._batch_size = batch_size
        self._dtype = dtype
        self._count = 0

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
        """``value`` for the images that draw ``u < probability``, else ``identity``."""
        hit = self.uniform() < probability
        if value.shape.rank == 2:
            hit = hit[:, None]
        return tf.where(hit, value, tf.cast(identity, self._dtype))


def _matrix(rows, like):
    """Per-image matrices ``[N, len(rows), len(rows[0])]``; numbers broadcast like ``like`` ``[N]``."""
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

    Reflect padding by the batch's bounding box, 2x ``sym6`` up-sampling, bilinear
    sampling with zero padding, ``sym6`` filtering and 2x down-sampling, as the original.
    """
    _, height, width, channels = images.shape
    dtype = images.dtype
    cx, cy = (width - 1) / 2, (height - 1) / 2

    # Margin that the mapped output corners need, plus the filter support.
    corners = tf.constant([[-cx, -cy, 1], [cx, -cy, 1], [cx, cy, 1], [-cx, cy, 1]], dtype)
    mapped = tf.reshape(tf.einsum("nij,kj->nki", g_inv[:, :2, :], corners), [-1, 2])
    margin = tf.concat([tf.reduce_max(-mapped, axis=0), tf.reduce_max(mapped, axis=0)], 0)
    margin = margin + tf.constant([2 * _GRID_PAD - cx, 2 * _GRID_PAD - cy] * 2, dtype)
    margin = tf.clip_by_value(margin, 0.0, tf.constant([width - 1, height - 1] * 2, dtype))
    pad_x0, pad_y0, pad_x1, pad_y1 = tf.unstack(tf.cast(tf.math.ceil(margin), tf.int32))

    images = tf.transpose(images, [0, 3, 1, 2])  # [N, C, H, W]: filters act per channel
    images = tf.pad(images, [[0, 0], [0, 0], [pad_y0, pad_y1], [pad_x0, pad_x1]], mode="REFLECT")
    centre_shift = tf.cast(tf.stack([pad_x0 - pad_x1, pad_y0 - pad_y1]), dtype) / 2
    images = _upsample_2x(images)

    # Same map in the coordinates of the padded, up-sampled image (its pixel centres
    # sit half a sample off the centred grid of the original resolution).
    to_up = _affine(2, 2, -0.5, -0.5, dtype) @ _affine(1, 1, centre_shift[0], centre_shift[1], dtype)
    from_up = _affine(0.5, 0.5, 0.25, 0.25, dtype)
    g_inv = to_up[None] @ g_inv @ from_up[None]

    grid_height, grid_width = 2 * (height + 2 * _GRID_PAD), 2 * (width + 2 * _GRID_PAD)
    images = _bilinear_sample(images, g_inv, grid_height, grid_width)
    images = _downsample_2x(images[:, :, 1:-1, 1:-1])
    images = tf.transpose(images, [0, 2, 3, 1])
    return tf.ensure_shape(images, [None, height, width, channels])


def _affine(sx, sy, tx, ty, dtype):
    """``[[sx, 0, tx], [0, sy, ty], [0, 0, 1]]`` (``tx``, ``ty`` may be scalar tensors)."""
    zero, one = tf.constant(0, dtype), tf.constant(1, dtype)
    rows = [[sx, zero, tx], [zero, sy, ty], [zero, zero, one]]
    return tf.stack([tf.stack([tf.cast(e, dtype) for e in row]) for row in rows])


def _bilinear_sample(images, g_inv, grid_height: int, grid_width: int):
    """``grid_sample`` (bilinear, zero padding, ``align_corners=False``) of ``[N, C, h, w]``.

    Output pixel ``(i, j)`` of the ``[N, C, grid_height, grid_width]`` result has
    centred coordinates ``(j + 0.5 - grid_width / 2, i + 0.5 - grid_height / 2)``
    and shows the input at ``g_inv`` of them (centred coordinates of the input).
    """
    dtype = images.dtype
    channels = images.shape[1]
    batch, _, in_height, in_width = tf.unstack(tf.shape(images))
    xs = tf.range(grid_width, dtype=dtype) + (0.5 - grid_width / 2)
    ys = tf.range(grid_height, dtype=dtype) + (0.5 - grid_height / 2)
    grid_y, grid_x = tf.meshgrid(ys, xs, indexing="ij")
    grid = tf.stack([tf.reshape(grid_x, [-1]), tf.reshape(grid_y, [-1]), tf.ones_like(tf.reshape(grid_x, [-1]))], 1)
    source = tf.einsum("nij,kj->nki", g_inv[:, :2, :], grid)  # [N, K, xy]
    source_x = source[..., 0] + (tf.cast(in_width, dtype) / 2 - 0.5)
    source_y = source[..., 1] + (tf.cast(in_height, dtype) / 2 - 0.5)

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
    flat = tf.reshape(images, [batch, channels, -1])
    taps = tf.gather(flat, tf.concat(indices, axis=1), axis=2, batch_dims=1)  # [N, C, 4K]
    taps = tf.reshape(taps, [batch, channels, 4, -1])
    sampled = tf.einsum("nctk,ntk->nck", taps, tf.stack(weights, axis=1))
    return tf.reshape(sampled, [batch, channels, grid_height, grid_width])


def _filter_kernels(dtype, gain: float):
    """The normalised ``sym6`` taps times ``gain`` as height- and width-wise conv kernels."""
    taps = np.asarray(SYM6) / np.sum(SYM6) * gain
    taps = tf.constant(taps, dtype)
    return tf.reshape(taps, [_TAPS, 1, 1, 1]), tf.reshape(taps, [1, _TAPS, 1, 1])


def _upsample_2x(images):
    """``upfirdn2d.upsample2d(f=sym6)``: ``[N, C, h, w] -> [N, C, 2h, 2w]``, zero borders.

    Zero insertion followed by convolution with the (flipped) filter is a strided
    transposed convolution; the original's padding keeps samples ``5 .. 2h + 4``.
    """
    channels = images.shape[1]
    batch, _, height, width = tf.unstack(tf.shape(images))
    kernel_y, kernel_x = _filter_kernels(images.dtype, gain=2.0)  # gain 4 over two passes
    x = tf.reshape(images, [-1, height, width, 1])
    crop = (_TAPS - 2) // 2
    x = tf.nn.conv2d_transpose(
        x, kernel_y, tf.stack([batch * channels, 2 * height + _TAPS - 2, width, 1]),
        strides=[1, 2, 1, 1], padding="VALID",
    )[:, crop : crop + 2 * height]
    x = tf.nn.conv2d_transpose(
        x, kernel_x, tf.stack([batch * channels, 2 * height, 2 * width + _TAPS - 2, 1]),
        strides=[1, 1, 2, 1], padding="VALID",
    )[:, :, crop : crop + 2 * width]
    return tf.reshape(x, [batch, channels, 2 * height, 2 * width])


def _downsample_2x(images):
    """``upfirdn2d.downsample2d(f=sym6, flip_filter=True)`` without its padding.

    Correlates with the filter and keeps every other sample (valid positions only):
    ``[N, C, 2h + 10, 2w + 10] -> [N, C, h, w]``.
    """
    _, channels, height, width = images.shape
    kernel_y, kernel_x = _filter_kernels(images.dtype, gain=1.0)
    x = tf.reshape(images, [-1, height, width, 1])
    x = tf.nn.conv2d(x, kernel_y, strides=[1, 2, 1, 1], padding="VALID")
    x = tf.nn.conv2d(x, kernel_x, strides=[1, 1, 2, 1], padding="VALID")
    return tf.reshape(x, [-1, channels, x.shape[1], x.shape[2]])
