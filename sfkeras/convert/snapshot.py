"""Read StyleGAN2-ADA / Styleformer network snapshots (``network-snapshot-*.pkl``) as data.

The original's ``training_loop.py`` pickles ``dict(training_set_kwargs, G, D, G_ema,
augment_pipe)``. Each network is a ``torch_utils.persistence`` class, pickled as a call
``_reconstruct_persistent_obj(meta)`` whose ``meta`` holds the Python source of its module,
its class name and its ``__dict__`` (constructor arguments in ``_init_args`` /
``_init_kwargs``, tensors in ``_parameters`` / ``_buffers``, sub-networks in
``_modules``). Every storage is serialised inside the pickle by
``torch.storage._load_from_bytes(bytes)``, the bytes being a legacy ``torch.save`` stream:
three header pickles, a pickle of the storage's persistent id, a pickle of the storage
keys, then per key its element count (int64) and raw bytes.

:func:`read_snapshot` unpickles all of this with a :class:`RestrictedUnpickler` whose
allow-list replaces those calls by inert data records (:class:`PersistentModule`); the
embedded source is dropped unread and any other global is refused.
"""

from __future__ import annotations

import dataclasses
import io
import pathlib
import pickle
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from sfkeras.convert.torch_pickle import (
    TENSOR_GLOBALS,
    RestrictedUnpickler,
    StorageType,
    TorchPickleError,
    storage_array,
)
from sfkeras.errors import MissingFileError, SnapshotError

#: The networks of a snapshot, in the original's pickle order.
NETWORK_NAMES = ("G", "D", "G_ema", "augment_pipe")


@dataclasses.dataclass
class PersistentModule:
    """Inert record of one pickled ``torch_utils.persistence`` module.

    Attributes:
        class_name: the original class, e.g. ``Generator``.
        init_args: positional constructor arguments.
        init_kwargs: keyword constructor arguments (plain data).
        state: the module's remaining ``__dict__`` (``_parameters``, ``_buffers``,
            ``_modules``, plain attributes).
    """

    class_name: str
    init_args: tuple
    init_kwargs: dict[str, Any]
    state: dict[str, Any]

    def named_tensors(self, prefix: str = "") -> Iterator[tuple[str, np.ndarray]]:
        """``(name, array)`` of every parameter and persistent buffer, named as in
        ``state_dict()`` (``mapping.fc0.weight``)."""
        transient = set(self.state.get("_non_persistent_buffers_set") or ())
        for group in ("_parameters", "_buffers"):
            for name, value in (self.state.get(group) or {}).items():
                if value is not None and name not in transient:
                    yield prefix + name, value
        for name, module in (self.state.get("_modules") or {}).items():
            if isinstance(module, PersistentModule):
                yield from module.named_tensors(f"{prefix}{name}.")

    def state_dict(self) -> dict[str, np.ndarray]:
        """Every tensor of :meth:`named_tensors` by name."""
        return dict(self.named_tensors())


def _reconstruct_persistent_obj(meta: Mapping[str, Any]) -> PersistentModule:
    """``torch_utils.persistence._reconstruct_persistent_obj`` as data (source unread)."""
    if not isinstance(meta, Mapping) or meta.get("type") != "class":
        raise SnapshotError("a persistent object is not a pickled class instance")
    state = dict(meta.get("state") or {})
    return PersistentModule(
        class_name=str(meta.get("class_name")),
        init_args=tuple(state.pop("_init_args", ())),
        init_kwargs=dict(state.pop("_init_kwargs", {})),
        state=state,
    )


def _rebuild_parameter(data: np.ndarray, requires_grad: bool = False,
                       backward_hooks: Any = None) -> np.ndarray:
    """``torch._utils._rebuild_parameter`` as data: the tensor itself."""
    del requires_grad, backward_hooks
    return data


def _numpy_scalar(dtype: np.dtype, data: bytes) -> Any:
    """``numpy.core.multiarray.scalar`` for plain (non-object) dtypes only."""
    if not isinstance(dtype, np.dtype) or dtype.hasobject or len(data) != dtype.itemsize:
        raise SnapshotError(f"refusing a NumPy scalar of dtype {dtype!r}")
    return np.frombuffer(data, dtype=dtype)[0]


class _StorageStreamUnpickler(RestrictedUnpickler):
    """The pickles of one legacy ``torch.save`` stream: plain data and storage ids."""

    file_kind = "a serialised torch storage"

    def __init__(self, file, storages: dict[str, tuple[StorageType, int]]):
        super().__init__(file)
        self._storages = storages

    def persistent_load(self, pid: Any) -> str:
        if not (isinstance(pid, tuple) and len(pid) == 6 and pid[0] == "storage"
                and isinstance(pid[1], StorageType) and pid[5] is None):
            raise SnapshotError(f"unsupported storage id {pid!r} in a serialised storage")
        _, storage_type, key, _location, numel, _view = pid
        self._storages[str(key)] = (storage_type, int(numel))
        return str(key)


def _load_storage_bytes(data: bytes) -> np.ndarray:
    """``torch.storage._load_from_bytes`` as data: the flat array of one storage."""
    stream = io.BytesIO(data)
    storages: dict[str, tuple[StorageType, int]] = {}

    def next_pickle() -> Any:
        return _StorageStreamUnpickler(stream, storages).load()

    try:
        _magic, _protocol, sys_info = next_pickle(), next_pickle(), next_pickle()
        root = next_pickle()
        keys = next_pickle()
        byteorder = "little" if dict(sys_info).get("little_endian", True) else "big"
        arrays = {}
        for key in keys:
            storage_type, numel = storages[str(key)]
            count = int.from_bytes(stream.read(8), byteorder)
            if count != numel:
                raise SnapshotError(f"storage {key}: {count} elements stored, {numel} announced")
            raw = stream.read(numel * storage_type.dtype.itemsize)
            arrays[str(key)] = storage_array(raw, storage_type, numel, byteorder, f"'{key}'")
    except (pickle.UnpicklingError, EOFError, KeyError, TypeError, ValueError) as error:
        if isinstance(error, TorchPickleError):
            raise
        raise SnapshotError(f"a serialised storage is malformed: {error!r}") from None
    if not isinstance(root, str) or root not in arrays:
        raise SnapshotError("a serialised storage does not hold exactly one storage")
    return arrays[root]


class _SnapshotUnpickler(RestrictedUnpickler):
    """The outer snapshot pickle: persistent modules, parameters, tensors, plain data."""

    allowed_globals = {
        **TENSOR_GLOBALS,
        "torch_utils.persistence._reconstruct_persistent_obj": _reconstruct_persistent_obj,
        "torch._utils._rebuild_parameter": _rebuild_parameter,
        "torch.storage._load_from_bytes": _load_storage_bytes,
        "numpy.dtype": np.dtype,
        "numpy.core.multiarray.scalar": _numpy_scalar,
        "numpy._core.multiarray.scalar": _numpy_scalar,
    }
    file_kind = "a network snapshot"


def read_snapshot(path: str | pathlib.Path) -> dict[str, Any]:
    """Read a network-snapshot pickle without torch and without running its code.

    Args:
        path: a ``network-snapshot-*.pkl`` of the original's training loop.

    Returns:
        The pickled dict: ``training_set_kwargs`` (plain data) and each of
        :data:`NETWORK_NAMES` present as a :class:`PersistentModule`.

    Raises:
        MissingFileError: ``path`` does not exist.
        SnapshotError: the pickle is malformed, asks for a global outside the allow-list
            (the message names it), or is not a snapshot dict.
    """
    path = pathlib.Path(path)
    if not path.is_file():
        raise MissingFileError(f"{path}: network snapshot not found; pass the path of a "
                               "network-snapshot-*.pkl written by the original training")
    try:
        with path.open("rb") as file:
            snapshot = _SnapshotUnpickler(file).load()
    except TorchPickleError as error:
        raise SnapshotError(f"{path}: {error}") from None
    except (pickle.UnpicklingError, EOFError, TypeError, ValueError, KeyError,
            IndexError, AttributeError) as error:
        raise SnapshotError(f"{path} is not a readable network snapshot: {error!r}") from None
    if not isinstance(snapshot, dict) or not any(
            isinstance(snapshot.get(name), PersistentModule) for name in NETWORK_NAMES):
        raise SnapshotError(f"{path} holds no networks: expected the dict of G, D, G_ema "
                            "that the original's training loop pickles")
    return snapshot


def snapshot_network(snapshot: Mapping[str, Any], name: str,
                     path: str | pathlib.Path = "snapshot") -> PersistentModule:
    """The network ``name`` (``G``, ``D``, ``G_ema``) of a snapshot read by :func:`read_snapshot`.

    Raises:
        SnapshotError: the snapshot has no such network.
    """
    module = snapshot.get(name)
    if not isinstance(module, PersistentModule):
        present = [n for n in NETWORK_NAMES if isinstance(snapshot.get(n), PersistentModule)]
        raise SnapshotError(f"{path} has no network '{name}' (it has {present})")
    return module


__all__ = ["NETWORK_NAMES", "PersistentModule", "SnapshotError",
           "read_snapshot", "snapshot_network"]
