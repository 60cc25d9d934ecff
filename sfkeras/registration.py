"""Registers sfkeras's Keras classes as soon as Keras is imported, without importing it.

Keras finds the classes of a ``.keras`` file in its registry, which a class joins when
the module defining it runs (``@keras.saving.register_keras_serializable``); Keras
imports modules by itself only for its own packages. So that
``import sfkeras, keras; keras.saving.load_model("G.keras")`` works, the modules that
define sfkeras's classes (:data:`REGISTERING_MODULES`) must run once Keras is there.
``import sfkeras`` must not import Keras itself, though: Keras imports TensorFlow,
which reads its settings (``TF_ENABLE_ONEDNN_OPTS``) once, when imported, and the
command line chooses them after ``import sfkeras`` (:func:`sfkeras.cli.main`).

:func:`install` (run by ``import sfkeras``) therefore imports the registering modules
at once when Keras is already imported, and otherwise puts a post-import hook first on
``sys.meta_path``: a finder that answers only for ``keras`` and, while it waits,
``sfkeras.*``. It finds their real specs with the finders after it and wraps each
loader so that it knows when the module has run (the module keeps its real loader).
Once ``keras`` has run, the registering modules are imported, and the hook removes
itself; if an ``sfkeras`` module is still being imported at that moment (most modules
of sfkeras start with ``import keras``), registration waits until the outermost one has
run, since the registering modules import those half-run modules' names.

The command line imports what each command needs and calls :func:`cancel` first, so
that a DVC stage runs (and depends on) only the code of its command.
"""

from __future__ import annotations

import importlib
import importlib.abc
import sys
import threading
import warnings

#: The modules defining sfkeras's Keras classes, on any backend.
REGISTERING_MODULES = ("sfkeras.layers", "sfkeras.models")
#: The modules defining sfkeras's Keras classes that run on TensorFlow only.
TENSORFLOW_REGISTERING_MODULES = ("sfkeras.training.augment", "sfkeras.training.optim")

_lock = threading.RLock()
_registered = False


def install() -> None:
    """Register sfkeras's Keras classes now if Keras is imported, else once it is."""
    if "keras" in sys.modules:
        register()
    else:
        with _lock:
            if not _registered and _HOOK not in sys.meta_path:
                sys.meta_path.insert(0, _HOOK)


def register() -> None:
    """Import the modules that define sfkeras's Keras classes (once; imports Keras)."""
    global _registered
    with _lock:
        cancel()
        if _registered:
            return
        _registered = True
    import keras

    names = REGISTERING_MODULES
    if keras.backend.backend() == "tensorflow":
        names += TENSORFLOW_REGISTERING_MODULES
    for name in names:
        importlib.import_module(name)


def cancel() -> None:
    """Remove the post-import hook: Keras classes register only as their modules are
    imported (the command line's choice)."""
    with _lock:
        if _HOOK in sys.meta_path:
            sys.meta_path.remove(_HOOK)


class _PostImportHook(importlib.abc.MetaPathFinder):
    """Finds ``keras`` and ``sfkeras.*`` with the other finders, wrapping their loaders
    (see the module's docstring); answers ``None`` for every other module."""

    def __init__(self) -> None:
        self.keras_ran = False
        self.sfkeras_running = 0  # sfkeras modules being imported now (nested)

    def find_spec(self, fullname, path, target=None):
        if fullname != "keras" and not fullname.startswith("sfkeras."):
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                break
        else:
            return None
        if spec.loader is not None and hasattr(spec.loader, "exec_module"):
            spec.loader = _ReportingLoader(spec.loader, self)
        return spec

    def started(self, name: str) -> None:
        with _lock:
            if name != "keras":
                self.sfkeras_running += 1

    def finished(self, name: str, ran: bool) -> None:
        with _lock:
            if name == "keras":
                self.keras_ran = self.keras_ran or ran
            else:
                self.sfkeras_running -= 1
            due = ran and self.keras_ran and self.sfkeras_running == 0 and not _registered
        if due:
            try:
                register()
            except Exception as error:  # an import of Keras or sfkeras must not fail here
                warnings.warn(f"sfkeras could not register its Keras classes "
                              f"({type(error).__name__}: {error}); import sfkeras.models "
                              "before loading .keras files", RuntimeWarning, stacklevel=2)


class _ReportingLoader(importlib.abc.Loader):
    """A module's loader that tells the hook when the module starts and ends running."""

    def __init__(self, loader: importlib.abc.Loader, hook: _PostImportHook) -> None:
        self.loader = loader
        self.hook = hook

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module) -> None:
        module.__loader__ = module.__spec__.loader = self.loader  # the module keeps its own
        name = module.__spec__.name
        self.hook.started(name)
        ran = False
        try:
            self.loader.exec_module(module)
            ran = True
        finally:
            self.hook.finished(name, ran)

    def __getattr__(self, name: str):  # everything else: the real loader's
        if name == "loader":  # not set yet (e.g. while copying)
            raise AttributeError(name)
        return getattr(self.loader, name)


_HOOK = _PostImportHook()
