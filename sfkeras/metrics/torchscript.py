"""Read the parameters of a TorchScript archive without PyTorch.

A TorchScript file (``torch.jit.save``) is a zip holding ``<root>/data.pkl``, a pickle
of the module tree, and ``<root>/data/<key>``, one raw little-endian storage per key.
:func:`read_torchscript` unpickles ``data.pkl`` with a *restricted* unpickler that
(:mod:`sfkeras.convert.torch_pickle`) that knows only the handful of globals such a
file needs and refuses everything else, so reading a file can never run code:

- ``torch._utils._rebuild_tensor_v2``: a tensor view (offset, size, stride) of a storage;
- ``torch.FloatStorage``: the storage type named in persistent ids (float32 only);
- ``torch.jit._pickle.build_intlist``: an attribute holding a list of ints;
- ``collections.OrderedDict``: the (empty) backward-hooks argument of a tensor;
- ``__torch__.*`` classes: TorchScript modules, rebuilt as inert :class:`ScriptModule`
  records of their attributes.
"""

from __future__ import annotations

import pathlib
import pickle
import zipfile
import zlib
from collections.abc import Iterator
from typing import Any

import numpy as np

from sfkeras.convert.torch_pickle import (
    STORAGE_TYPES,
    TENSOR_GLOBALS,
    RestrictedUnpickler,
    TorchPickleError,
    storage_array,
)
from sfkeras.errors import TorchScriptError


class ScriptModule:
    """Inert stand-in for a pickled ``__torch__.*`` module.

    Attributes:
        qualified_name: the TorchScript class, e.g. ``__torch__.inceptionv3.Conv2dLayer``.
        attributes: the module's pickled state: submodules, tensors (as float32
            ``np.ndarray``), ints, lists, flags.
    """

    qualified_name = "__torch__"

    def __init__(self) -> None:
        self.attributes: dict[str, Any] = {}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.attributes = dict(state)

    def named_tensors(self, prefix: str = "") -> Iterator[tuple[str, np.ndarray]]:
        """Yield ``(dotted name, array)`` for every tensor in this module tree."""
        for name, value in self.attributes.items():
            path = f"{prefix}{name}"
            if isinstance(value, np.ndarray):
                yield path, value
            elif isinstance(value, ScriptModule):
                yield from value.named_tensors(path + ".")


def _build_intlist(values: list[int]) -> list[int]:
    return list(values)


class _TorchScriptUnpickler(RestrictedUnpickler):
    """Unpickler for ``data.pkl`` that resolves storages from the archive."""

    allowed_globals = {**TENSOR_GLOBALS, "torch.jit._pickle.build_intlist": _build_intlist}
    file_kind = "a TorchScript parameter file"

    def __init__(self, file, archive: zipfile.ZipFile, root: str, byteorder: str):
        super().__init__(file)
        self._archive = archive
        self._root = root
        self._byteorder = byteorder
        self._module_classes: dict[str, type[ScriptModule]] = {}

    def find_class(self, module: str, name: str) -> Any:
        if module.startswith("__torch__.") or module == "__torch__":
            qualified = f"{module}.{name}"
            if qualified not in self._module_classes:
                self._module_classes[qualified] = type(
                    name, (ScriptModule,), {"qualified_name": qualified}
                )
            return self._module_classes[qualified]
        return super().find_class(module, name)

    def persistent_load(self, pid: Any) -> np.ndarray:
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"):
            raise TorchScriptError(f"unsupported persistent id {pid!r}")
        _, storage_type, key, _location, numel = pid
        if storage_type is not STORAGE_TYPES["torch.FloatStorage"]:
            raise TorchScriptError(f"unsupported storage type {storage_type!r} (float32 only)")
        member = f"{self._root}/data/{key}"
        try:
            raw = self._archive.read(member)
        except KeyError:
            raise TorchScriptError(f"storage '{member}' is missing from the archive") from None
        return storage_array(raw, storage_type, numel, self._byteorder, f"'{member}'")


def read_torchscript(path: str | pathlib.Path) -> ScriptModule:
    """Read the module tree of a TorchScript archive, tensors as float32 arrays.

    Args:
        path: a file written by ``torch.jit.save``.

    Returns:
        The root :class:`ScriptModule`; ``root.named_tensors()`` lists every parameter
        under its dotted name (e.g. ``net.layers.conv.weight``).

    Raises:
        FileNotFoundError: ``path`` does not exist.
        TorchScriptError: the zip is corrupt or truncated, lacks ``data.pkl`` or a
            storage, or the pickle asks for a global outside the allowed set.
    """
    path = pathlib.Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"TorchScript file not found: {path}")
    try:
        with zipfile.ZipFile(path) as archive:
            pickles = [n for n in archive.namelist() if n.endswith("/data.pkl")]
            if len(pickles) != 1:
                raise TorchScriptError(f"{path}: expected one '<root>/data.pkl' in the archive")
            root = pickles[0][: -len("/data.pkl")]
            byteorder = "little"
            if f"{root}/byteorder" in archive.namelist():
                byteorder = archive.read(f"{root}/byteorder").decode().strip()
            with archive.open(pickles[0]) as file:
                module = _TorchScriptUnpickler(file, archive, root, byteorder).load()
    except TorchScriptError:
        raise
    except TorchPickleError as error:  # a refused global or a malformed tensor
        raise TorchScriptError(f"{path}: {error}") from None
    except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, OSError) as error:
        raise TorchScriptError(
            f"{path} is not a readable TorchScript archive (corrupt or truncated zip): {error}"
        ) from error
    except pickle.UnpicklingError as error:
        raise TorchScriptError(f"{path}: unreadable data.pkl: {error}") from error
    if not isinstance(module, ScriptModule):
        raise TorchScriptError(f"{path}: data.pkl does not hold a TorchScript module")
    return module
