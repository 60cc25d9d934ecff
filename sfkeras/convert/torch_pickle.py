"""Restricted unpickling of PyTorch files: tensors come back as NumPy arrays, no code runs.

PyTorch writes tensors into pickles as calls of a few of its own functions on raw
storages. :class:`RestrictedUnpickler` resolves each global a pickle names through an
explicit allow-list of inert replacements (for example ``torch._utils._rebuild_tensor_v2``
becomes :func:`rebuild_tensor`, a NumPy strided view) and refuses every other global with
an error that names it, so reading a file never imports or calls anything it chooses.
The readers of TorchScript archives (:mod:`sfkeras.metrics.torchscript`) and of
network-snapshot pickles (:mod:`sfkeras.convert.snapshot`) are built on it.
"""

from __future__ import annotations

import collections
import pickle
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from sfkeras.errors import TorchPickleError


class StorageType:
    """Inert stand-in for a ``torch.<Type>Storage`` class named in a persistent id.

    Attributes:
        name: the torch class, e.g. ``torch.FloatStorage``.
        dtype: NumPy dtype of one element (native byte order).
    """

    def __init__(self, name: str, dtype: str) -> None:
        self.name = name
        self.dtype = np.dtype(dtype)

    def __repr__(self) -> str:
        return self.name


#: The storage classes whose elements map onto a NumPy dtype.
STORAGE_TYPES: dict[str, StorageType] = {
    f"torch.{name}Storage": StorageType(f"torch.{name}Storage", dtype)
    for name, dtype in (("Float", "f4"), ("Double", "f8"), ("Half", "f2"), ("Long", "i8"),
                        ("Int", "i4"), ("Short", "i2"), ("Char", "i1"), ("Byte", "u1"),
                        ("Bool", "?"))
}


def storage_array(raw: bytes, storage_type: StorageType, numel: int, byteorder: str,
                  where: str) -> np.ndarray:
    """The flat array of ``numel`` elements held in ``raw`` (read-only, native order).

    Args:
        raw: the storage's bytes.
        storage_type: from the persistent id.
        numel: element count from the persistent id.
        byteorder: ``"little"`` or ``"big"``, as the file records it.
        where: names the storage in errors (file and key).

    Raises:
        TorchPickleError: ``raw`` does not hold exactly ``numel`` elements.
    """
    dtype = storage_type.dtype.newbyteorder("<" if byteorder == "little" else ">")
    if len(raw) != numel * dtype.itemsize:
        raise TorchPickleError(f"storage {where} has {len(raw)} bytes, expected {numel} "
                               f"{storage_type.dtype.name} values ({storage_type.name})")
    return np.frombuffer(raw, dtype=dtype).astype(storage_type.dtype, copy=False)


def rebuild_tensor(storage: np.ndarray, storage_offset: int, size: tuple[int, ...],
                   stride: tuple[int, ...], requires_grad: bool = False,
                   backward_hooks: Any = None, metadata: Any = None) -> np.ndarray:
    """``torch._utils._rebuild_tensor_v2`` as data: a contiguous copy of the view
    ``storage[offset; size; stride]`` in the storage's dtype (no autograd state).

    Raises:
        TorchPickleError: a malformed view, or one that overruns its storage.
    """
    del requires_grad, backward_hooks, metadata  # no autograd here
    if not isinstance(storage, np.ndarray):
        raise TorchPickleError(f"a tensor is built on {type(storage).__name__}, not a storage")
    size, stride = tuple(size), tuple(stride)
    if len(size) != len(stride) or any(s < 0 for s in size + stride) or storage_offset < 0:
        raise TorchPickleError(f"invalid tensor view: size {size}, stride {stride}")
    if 0 not in size:
        last = storage_offset + sum((n - 1) * s for n, s in zip(size, stride, strict=True))
        if last >= storage.size:
            raise TorchPickleError(
                f"tensor view (offset {storage_offset}, size {size}, stride {stride}) "
                f"overruns its storage of {storage.size} values")
    view = np.lib.stride_tricks.as_strided(
        storage[storage_offset:], shape=size,
        strides=tuple(s * storage.itemsize for s in stride), writeable=False)
    return np.array(view, order="C")  # (ascontiguousarray would make 0-d tensors 1-d)


#: Globals every PyTorch pickle of tensors needs, with their inert replacements.
TENSOR_GLOBALS: dict[str, Any] = {
    "torch._utils._rebuild_tensor_v2": rebuild_tensor,
    "collections.OrderedDict": collections.OrderedDict,
    **STORAGE_TYPES,
}


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that resolves globals only through :attr:`allowed_globals`.

    Subclasses extend :attr:`allowed_globals` (qualified name -> inert replacement) and
    implement ``persistent_load`` for their file format's storages.
    """

    allowed_globals: ClassVar[Mapping[str, Any]] = TENSOR_GLOBALS
    #: What the file is, for the refusal message (e.g. "a TorchScript parameter file").
    file_kind: ClassVar[str] = "a PyTorch tensor file"

    def find_class(self, module: str, name: str) -> Any:
        qualified = f"{module}.{name}"
        if qualified in self.allowed_globals:
            return self.allowed_globals[qualified]
        raise TorchPickleError(
            f"refusing to load global '{qualified}': {self.file_kind} needs only tensors, "
            "storages and plain data, and this one asks for more (unpickled with pickle it "
            "could run code): do not open it with pickle; get the file from a trusted source")
