"""Shared machinery for importing the original PyTorch state dicts.

The original networks' parameter names appear only in the ``sfkeras.convert`` modules
(one table per network). A table maps every original name to a target variable and a
layout transform; :func:`assign_state` checks the whole state dict before touching any
variable, so a bad file changes nothing and the error lists every problem at once.
"""

from __future__ import annotations

import pathlib
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from sfkeras.errors import WeightImportError


@dataclass(frozen=True)
class Target:
    """Where one original tensor goes.

    Attributes:
        variable: the Keras variable to assign.
        transform: maps the original array (original layout) to the variable's layout.
    """

    variable: object
    transform: Callable[[np.ndarray], np.ndarray] = np.asarray  # identity


def transpose(array: np.ndarray) -> np.ndarray:
    """Dense weight ``[out, in]`` -> Keras kernel ``[in, out]``."""
    return np.asarray(array).T


def dense_targets(prefix: str, layer) -> dict[str, Target]:
    """``{prefix}.weight`` and ``{prefix}.bias`` of an original ``FullyConnectedLayer`` ->
    an :class:`~sfkeras.layers.dense.EqualizedDense` (``None``: no entries)."""
    if layer is None:
        return {}
    return {f"{prefix}.weight": Target(layer.kernel, transpose),
            f"{prefix}.bias": Target(layer.bias)}


def conv_kernel(array: np.ndarray) -> np.ndarray:
    """Conv weight ``[out, in, kh, kw]`` -> Keras kernel ``[kh, kw, in, out]``."""
    return np.transpose(np.asarray(array), (2, 3, 1, 0))


def assign_state(
    table: Mapping[str, Target],
    state: Mapping[str, np.ndarray],
    *,
    ignore: Callable[[str], bool] = lambda name: False,
    network: str = "network",
) -> None:
    """Assign every tensor of ``state`` through ``table``, after checking all of them.

    Args:
        table: original name -> :class:`Target`, for every parameter the network needs.
        state: original name -> array (e.g. from ``np.load`` of a saved state dict).
        ignore: names of ``state`` that carry no parameter (e.g. ``resample_filter``
            buffers, which are constants here).
        network: name used in error messages.

    Raises:
        WeightImportError: listing missing, unexpected and mis-shaped tensors.
    """
    missing = sorted(set(table) - set(state))
    unexpected = sorted(n for n in state if n not in table and not ignore(n))
    converted, misshaped = {}, []
    for name, target in table.items():
        if name not in state:
            continue
        value = target.transform(np.asarray(state[name], dtype=np.float32))
        expected = tuple(target.variable.shape)
        if tuple(value.shape) != expected:
            misshaped.append(f"{name}: got {tuple(np.shape(state[name]))}, "
                             f"needs {expected} after layout conversion")
        converted[name] = value
    problems = []
    if missing:
        problems.append(f"missing ({len(missing)}): " + ", ".join(missing))
    if unexpected:
        problems.append(f"unexpected ({len(unexpected)}): " + ", ".join(unexpected))
    if misshaped:
        problems.append(f"mis-shaped ({len(misshaped)}): " + "; ".join(misshaped))
    if problems:
        raise WeightImportError(
            f"the state dict does not fit this {network} (check the config it was built "
            "with):\n  " + "\n  ".join(problems)
        )
    for name, target in table.items():
        target.variable.assign(converted[name])


def load_state(path: str | pathlib.Path, prefix: str = "") -> dict[str, np.ndarray]:
    """Read a state dict saved as ``.npz`` (never a pickle: ``allow_pickle=False``).

    Args:
        path: ``.npz`` written with ``numpy.savez(path, **{k: v.numpy() for k, v in
            G.state_dict().items()})``.
        prefix: keep only names starting with it, with the prefix removed (e.g.
            ``"state/"`` for the reference fixtures).
    """
    path = pathlib.Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    try:
        with np.load(path, allow_pickle=False) as data:
            return {k[len(prefix):]: data[k] for k in data.files if k.startswith(prefix)}
    except (ValueError, OSError, zipfile.BadZipFile) as error:
        raise WeightImportError(f"{path} is not a readable .npz of arrays: {error}") from None
