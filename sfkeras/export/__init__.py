"""Export a trained generator in the formats people deploy, each checked on the way out.

``export.formats`` (params.yaml) chooses among :data:`FORMATS`:

* ``saved_model``: ``saved_model/``, a TensorFlow SavedModel with the signatures
  ``serving_default``, ``generate``, ``mapping`` and ``synthesis``
  (:mod:`~sfkeras.export.saved_model`);
* ``litert``: ``<network>.tflite``, LiteRT (TensorFlow Lite) with built-in ops only;
* ``onnx``: ``<network>.onnx`` (:mod:`~sfkeras.export.portable`).

Every artifact maps ``z float32 [N, z_dim]`` (and, for a conditional generator, one-hot
labels ``c float32 [N, c_dim]``) to ``images uint8 [N, H, W, 3]`` with constant noise and
the export's truncation psi (the SavedModel's ``serving_default``). Before the export
succeeds, each is run by its own runtime on :data:`CHECK_SEEDS`' latents (seed ``i`` of
class ``i mod c_dim``) and compared with the Keras generator: more than
:data:`TOLERANCE` uint8 levels apart anywhere fails the export, naming the format and
the difference.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import pathlib
import shutil
from collections.abc import Callable, Sequence

import numpy as np

from sfkeras.backend import require_tensorflow
from sfkeras.errors import ExportError
from sfkeras.export.portable import run_litert, run_onnx, write_litert, write_onnx
from sfkeras.export.saved_model import run_saved_model, write_saved_model
from sfkeras.export.serving import NOISE_MODE, images_uint8
from sfkeras.images import z_from_seeds
from sfkeras.labels import cycled_labels
from sfkeras.saved.loader import load_generator

#: Seeds of the latents every artifact is checked on (``z_from_seeds``).
CHECK_SEEDS = tuple(range(8))

#: Largest difference allowed between an artifact's uint8 images and the Keras
#: generator's: 1 level, a float rounding across the truncation to uint8.
TOLERANCE = 1


@dataclasses.dataclass(frozen=True)
class Format:
    """One export format.

    Attributes:
        name: its ``export.formats`` name.
        artifact: the artifact's file or folder name; ``{stem}`` stands for the network
            file's (``G_ema``).
        write: ``(generator, path, truncation_psi)`` -> writes the artifact.
        run: ``(path, inputs)`` -> its uint8 images of ``inputs`` (``{"z": latents}``,
            and ``"c"``: labels for a conditional generator).
        packages: import names of what ``write`` and ``run`` need beyond sfkeras's own
            dependencies (the extra ``sfkeras[export]``).
    """

    name: str
    artifact: str
    write: Callable[[object, pathlib.Path, float], None]
    run: Callable[[pathlib.Path, dict[str, np.ndarray]], np.ndarray]
    packages: tuple[str, ...] = ()


FORMATS = {export_format.name: export_format for export_format in (
    Format("saved_model", "saved_model", write_saved_model, run_saved_model),
    Format("litert", "{stem}.tflite", write_litert, run_litert, ("ai_edge_litert",)),
    Format("onnx", "{stem}.onnx", write_onnx, run_onnx, ("tf2onnx", "onnx", "onnxruntime")),
)}


def export_generator(network: pathlib.Path, out_dir: pathlib.Path, *,
                     truncation_psi: float = 1.0,
                     formats: Sequence[str] = tuple(FORMATS)) -> dict[str, pathlib.Path]:
    """Write ``formats`` of the generator ``network`` and a copy of it into ``out_dir``.

    Args:
        network: the generator's ``.keras`` file (e.g. ``data/train/G_ema.keras``).
        out_dir: output folder (replaced).
        truncation_psi: psi of every artifact (the SavedModel's ``serving_default``).
        formats: names of :data:`FORMATS`.

    Returns:
        Each format's artifact, named after the network file (``G_ema.tflite`` for
        ``G_ema.keras``; the SavedModel is ``saved_model/``).

    Raises:
        BackendError: Keras runs on another backend than TensorFlow.
        ExportError: a format's packages are missing, its converter or runtime fails,
            or an artifact's images differ from the Keras generator's; ``out_dir`` is
            then left as it was.
    """
    require_tensorflow("export")
    chosen = [FORMATS[name] for name in formats]
    _check_packages(chosen)
    generator = load_generator(network)
    inputs = {"z": z_from_seeds(CHECK_SEEDS, generator.z_dim)}
    if generator.c_dim:
        inputs["c"] = cycled_labels(len(CHECK_SEEDS), generator.c_dim)
    expected = np.asarray(images_uint8(generator(
        inputs["z"], inputs.get("c"), truncation_psi=truncation_psi, noise_mode=NOISE_MODE)))
    # Written next to out_dir and moved into place once every artifact passed its check:
    # a failed export leaves the previous one as it was.
    staging = out_dir.with_name(f".{out_dir.name}.tmp")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        shutil.copy2(network, staging / network.name)
        differences = {f.name: _write_and_check(f, generator, staging / f.artifact.format(
            stem=network.stem), inputs, expected, truncation_psi) for f in chosen}
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if out_dir.exists():
        shutil.rmtree(out_dir)
    os.replace(staging, out_dir)
    artifacts = {}
    for export_format in chosen:
        path = artifacts[export_format.name] = out_dir / export_format.artifact.format(
            stem=network.stem)
        difference = differences[export_format.name]
        print(f"export: {export_format.name} -> {path} (checked: at most {difference} uint8 "
              f"level{'s' * (difference != 1)} from the Keras generator on "
              f"{len(CHECK_SEEDS)} latents)", flush=True)
    return artifacts


def _write_and_check(export_format: Format, generator, path: pathlib.Path,
                     inputs: dict[str, np.ndarray], expected: np.ndarray,
                     truncation_psi: float) -> int:
    """Write one artifact, run it on ``inputs`` and return its difference from ``expected``;
    a converter's or runtime's failure becomes an :class:`ExportError` naming the format."""
    try:
        export_format.write(generator, path, truncation_psi)
        images = np.asarray(export_format.run(path, inputs))
    except Exception as error:
        reason = str(error).strip().splitlines()[0][:300] if str(error).strip() else ""
        raise ExportError(f"the {export_format.name} export of {path.name} failed: "
                          f"{type(error).__name__}: {reason}") from error
    return check_artifact(export_format.name, path, images, expected)


def _check_packages(formats: Sequence[Format]) -> None:
    missing = {f.name: [p for p in f.packages if importlib.util.find_spec(p) is None]
               for f in formats}
    missing = {name: packages for name, packages in missing.items() if packages}
    if missing:
        names = ", ".join(missing)
        packages = ", ".join(p for packages in missing.values() for p in packages)
        raise ExportError(f"export.formats names {names}, whose converters and runtimes "
                          f"are not installed ({packages}): pip install 'sfkeras[export]', "
                          f"or remove {names} from export.formats")


def check_artifact(name: str, path: pathlib.Path, images: np.ndarray,
                   expected: np.ndarray) -> int:
    """The largest difference of an artifact's ``images`` from the Keras generator's
    ``expected`` uint8 images (both ``[N, H, W, C]``).

    Raises:
        ExportError: they differ in shape or type, or by more than :data:`TOLERANCE`,
            naming the format ``name`` and its artifact ``path``.
    """
    seeds = f"the latents of seeds {CHECK_SEEDS[0]}-{CHECK_SEEDS[-1]}"
    if images.shape != expected.shape or images.dtype != expected.dtype:
        raise ExportError(f"the {name} export {path} gives {images.dtype} images of shape "
                          f"{list(images.shape)} for {seeds}, the Keras generator "
                          f"{expected.dtype} {list(expected.shape)}")
    difference = int(np.abs(images.astype(np.int16) - expected.astype(np.int16)).max())
    if difference > TOLERANCE:
        raise ExportError(f"the {name} export {path} differs from the Keras generator by "
                          f"{difference} uint8 levels on {seeds} (tolerance {TOLERANCE})")
    return difference
