"""Project an image into W: StyleGAN2-ADA's ``projector.py`` for this port.

The schedule is the original's: ``w`` starts at ``w_avg`` (of 10 000 mapped latents of
``RandomState(123)``) and is optimised with Adam (betas 0.9, 0.999) together with every
layer's constant noise; the learning rate ramps up over the first 5 % of the steps and
down (cosine) over the last 25 %; Gaussian noise of ``w_std * 0.05 * max(0, 1 - t/0.75)^2``
is added to ``w`` at each step; the noise maps are regularised towards no spatial
autocorrelation at every scale down to 8x8 (weight 1e5) and renormalised to zero mean,
unit variance after each step. The loss is a perceptual distance between the synthesis
(constant noise) and the target.

The original measures that distance with VGG16 LPIPS features. Here the default is
offline: the FID Inception-v3 that the metrics already use (:mod:`sfkeras.metrics.
inception`), its activations after several blocks, each normalised to unit length over
channels, their squared differences averaged over positions and summed over layers (LPIPS
without the learned per-channel weights). The VGG16 LPIPS weights are not supported yet.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence

import keras
import numpy as np
import tensorflow as tf

from sfkeras.config.base import ConfigError
from sfkeras.render.figures import seed_labels, synthesize

#: Inception activations compared by the default distance (35x35 ... 8x8 maps).
INCEPTION_LAYERS = ("conv_4", "mixed_2", "mixed_7", "mixed_10")


@dataclasses.dataclass(frozen=True)
class ProjectionSchedule:
    """The optimisation schedule (defaults: StyleGAN2-ADA's ``projector.py``)."""

    num_steps: int = 1000
    w_avg_samples: int = 10000
    initial_learning_rate: float = 0.1
    initial_noise_factor: float = 0.05
    lr_rampdown_length: float = 0.25
    lr_rampup_length: float = 0.05
    noise_ramp_length: float = 0.75
    regularize_noise_weight: float = 1e5

    def learning_rate(self, step: int) -> float:
        """Adam's learning rate at ``step``: ramp up, constant, cosine ramp down."""
        t = step / self.num_steps
        ramp = min(1.0, (1.0 - t) / self.lr_rampdown_length)
        ramp = 0.5 - 0.5 * math.cos(ramp * math.pi)
        return self.initial_learning_rate * ramp * min(1.0, t / self.lr_rampup_length)

    def w_noise_scale(self, step: int, w_std: float) -> float:
        """Standard deviation of the noise added to ``w`` at ``step``."""
        t = step / self.num_steps
        return w_std * self.initial_noise_factor * max(0.0, 1.0 - t / self.noise_ramp_length) ** 2


@dataclasses.dataclass(frozen=True)
class Projection:
    """The result of :func:`project`.

    Attributes:
        ws: ``w`` after every step ``[num_steps, num_ws, w_dim]``; ``ws[-1]`` is the
            projection.
        distances: perceptual distance to the target at every step ``[num_steps]``.
        image: the final synthesis (with the optimised noise), uint8 ``[H, W, C]``.
    """

    ws: np.ndarray
    distances: np.ndarray
    image: np.ndarray


def inception_feature_model(inception: keras.Model,
                            layers: Sequence[str] = INCEPTION_LAYERS) -> keras.Model:
    """The FID Inception's activations after ``layers``: float ``[N, H, W, 3]`` pixel
    values in [0, 255] -> list of ``[N, h, w, c]`` maps."""
    return keras.Model(inception.input, [inception.get_layer(name).output for name in layers])


def perceptual_distance(features_a: Sequence[tf.Tensor], features_b: Sequence[tf.Tensor]
                        ) -> tf.Tensor:
    """Per-image ``sum_layers mean_positions |a/|a| - b/|b||^2`` (channel-normalised) ``[N]``."""
    total = 0.0
    for a, b in zip(features_a, features_b, strict=True):
        a, b = _unit_channels(a), _unit_channels(b)
        axes = list(range(1, len(a.shape) - 1)) or None
        squared = tf.reduce_sum(tf.square(a - b), axis=-1)
        total += tf.reduce_mean(squared, axis=axes) if axes else squared
    return total


def _unit_channels(features: tf.Tensor) -> tf.Tensor:
    return features * tf.math.rsqrt(tf.reduce_sum(tf.square(features), -1, keepdims=True) + 1e-10)


def noise_variables(generator) -> list:
    """The constant-noise variables of every synthesis layer."""
    return [v for v in generator.synthesis.weights if v.path.endswith("noise_const")]


def noise_regularization(noises: Sequence[tf.Tensor]) -> tf.Tensor:
    """The original's penalty on the autocorrelation of each noise map at every scale
    (halving by average pooling while larger than 8x8). Maps are ``[R, R]`` or
    ``[R*R, 1]`` (token order, row-major)."""
    loss = 0.0
    for noise in noises:
        size = math.isqrt(int(np.prod(noise.shape)))
        noise = tf.reshape(noise, [1, size, size, 1])
        while True:
            loss += tf.reduce_mean(noise * tf.roll(noise, 1, axis=2)) ** 2
            loss += tf.reduce_mean(noise * tf.roll(noise, 1, axis=1)) ** 2
            if noise.shape[1] <= 8:
                break
            noise = tf.nn.avg_pool2d(noise, 2, 2, "VALID")
    return loss


def w_statistics(generator, samples: int, seed: int = 123,
                 class_index: int | None = None) -> tuple[np.ndarray, float]:
    """``(w_avg [1, 1, w_dim], w_std)`` of ``samples`` mapped latents (the original's),
    of class ``class_index`` for a conditional generator."""
    z = np.random.RandomState(seed).randn(samples, generator.z_dim).astype(np.float32)
    c = seed_labels(generator, samples, class_index)
    w = np.concatenate([keras.ops.convert_to_numpy(generator.mapping(
        z[i : i + 1000], None if c is None else c[i : i + 1000]))[:, :1]
        for i in range(0, samples, 1000)])
    w_avg = w.mean(axis=0, keepdims=True)
    return w_avg, float(np.sqrt(np.sum((w - w_avg) ** 2) / samples))


def project(generator, target: np.ndarray, feature_model: Callable,
            schedule: ProjectionSchedule = ProjectionSchedule(), seed: int = 0,
            progress: Callable[[int, float], None] | None = None,
            class_index: int | None = None) -> Projection:
    """Find the ``w`` whose image is closest to ``target``.

    Args:
        generator: a :class:`~sfkeras.models.Generator`; its constant noise is optimised
            in place (as the original does on its copy).
        target: uint8 ``[H, W, C]`` at the generator's resolution.
        feature_model: float pixels ``[N, H, W, 3]`` in [0, 255] -> list of feature maps
            (e.g. :func:`inception_feature_model`).
        schedule: see :class:`ProjectionSchedule`.
        seed: seed of the initial noise maps and of the noise added to ``w``.
        progress: called as ``progress(step, distance)`` after every step.
        class_index: the class to project into (a conditional generator, which needs
            one: the search starts from that class's mean ``w``).

    Raises:
        ConfigError: (``--class``) see :func:`~sfkeras.render.figures.seed_labels`; or
            missing for a conditional generator.
    """
    if generator.c_dim and class_index is None:
        raise ConfigError("--class", f"the network is conditional ({generator.c_dim} "
                          f"classes): choose the class to project into, 0-{generator.c_dim - 1}")
    rng = np.random.default_rng(seed)
    w_avg, w_std = w_statistics(generator, schedule.w_avg_samples, class_index=class_index)
    w_opt = keras.Variable(w_avg, name="w")
    noises = noise_variables(generator)
    for noise in noises:
        noise.assign(rng.standard_normal(noise.shape).astype(np.float32))
    variables = [w_opt, *noises]
    optimizer = keras.optimizers.Adam(schedule.initial_learning_rate, beta_1=0.9, beta_2=0.999)
    optimizer.build(variables)
    target_features = feature_model(tf.constant(target[None], tf.float32))
    num_ws = generator.num_ws

    @tf.function(autograph=False)
    def gradients(w_noise):
        with tf.GradientTape(watch_accessed_variables=False) as tape:
            tape.watch([v.value for v in variables])
            ws = tf.tile(w_opt.value + w_noise, [1, num_ws, 1])
            pixels = (generator.synthesis(ws, noise_mode="const") + 1.0) * 127.5
            distance = perceptual_distance(target_features, feature_model(pixels))[0]
            loss = distance + schedule.regularize_noise_weight * noise_regularization(
                [v.value for v in noises])
        return distance, tape.gradient(loss, [v.value for v in variables])

    ws, distances = [], []
    for step in range(schedule.num_steps):
        w_noise = rng.standard_normal(w_avg.shape).astype(np.float32)
        distance, grads = gradients(w_noise * schedule.w_noise_scale(step, w_std))
        optimizer.learning_rate.assign(schedule.learning_rate(step))
        optimizer.apply(grads, variables)
        for noise in noises:  # zero mean, unit variance
            centred = noise.value - tf.reduce_mean(noise.value)
            noise.assign(centred * tf.math.rsqrt(tf.reduce_mean(tf.square(centred))))
        ws.append(np.repeat(keras.ops.convert_to_numpy(w_opt)[0], num_ws, axis=0))
        distances.append(float(distance))
        if progress is not None:
            progress(step, distances[-1])
    image = synthesize(generator, ws[-1][None])[0]
    return Projection(ws=np.stack(ws), distances=np.asarray(distances), image=image)


def load_target(path, resolution: int) -> np.ndarray:
    """An image file as uint8 ``[resolution, resolution, 3]``: RGB, centre-cropped to a
    square, resized with Lanczos (as the original projector)."""
    from PIL import Image

    image = Image.open(path).convert("RGB")
    width, height = image.size
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    image = image.crop((left, top, left + side, top + side))
    return np.asarray(image.resize((resolution, resolution), Image.LANCZOS))


def projection_frames(target: np.ndarray, generator, ws: np.ndarray, every: int = 1
                      ) -> np.ndarray:
    """Video frames ``[T, H, 2W, C]``: the target beside the synthesis of every
    ``every``-th step's ``w`` (the original's ``proj.mp4``)."""
    images = synthesize(generator, ws[::every])
    return np.concatenate([np.broadcast_to(target, images.shape), images], axis=2)


def known_w_errors(projection: Projection, true_ws: np.ndarray, target: np.ndarray
                   ) -> dict[str, float]:
    """How close a projection of a generated image comes to its known ``w``.

    Returns:
        ``distance`` (final perceptual distance), ``w_rmse`` (root mean square of
        ``w - w_true`` over the ``w`` entries) and ``psnr`` (dB, of the final image
        against the target).
    """
    w_rmse = float(np.sqrt(np.mean((projection.ws[-1] - np.asarray(true_ws)) ** 2)))
    mse = np.mean((projection.image.astype(np.float64) - target.astype(np.float64)) ** 2)
    psnr = float("inf") if mse == 0 else float(10 * np.log10(255.0**2 / mse))
    return {"distance": float(projection.distances[-1]), "w_rmse": w_rmse, "psnr": psnr}


def save_projection(projection: Projection, target: np.ndarray, generator, out_dir,
                    video: bool = False, fps: float = 10.0) -> dict[str, object]:
    """Write the original's outputs: ``projected_w.npz`` (``w [1, num_ws, w_dim]``),
    ``target.png``, ``proj.png`` and, with ``video``, ``proj.mp4`` (target beside the
    synthesis at every step; a GIF where ffmpeg is missing). Returns the paths by name."""
    import pathlib

    from sfkeras.images import save_png
    from sfkeras.render.video import save_video

    out_dir = pathlib.Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    np.savez(out_dir / "projected_w.npz", w=projection.ws[-1][None])
    paths = {"projected_w": out_dir / "projected_w.npz",
             "target": save_png(target, out_dir / "target.png"),
             "proj": save_png(projection.image, out_dir / "proj.png")}
    if video:
        every = max(1, len(projection.ws) // 250)
        paths["video"] = save_video(projection_frames(target, generator, projection.ws, every),
                                    out_dir / "proj.mp4", fps)
    return paths
