"""Exported artifacts (``export:`` in ``params.yaml``)."""

from __future__ import annotations

import dataclasses
from typing import Literal

from sfkeras.config.base import Section

#: The formats ``sfkeras export`` writes (:mod:`sfkeras.export`).
EXPORT_FORMATS = ("saved_model", "litert", "onnx")


@dataclasses.dataclass(frozen=True)
class ExportConfig(Section):
    """Which network to export, in which formats.

    Attributes:
        network: ``final`` (the run's last G_ema, ``data/train/G_ema.keras``) or ``best``
            (its snapshot of lowest FID, ``data/train/G_best.keras``).
        formats: ``saved_model`` (TensorFlow SavedModel), ``litert`` (``.tflite``,
            built-in ops only) and/or ``onnx`` (``.onnx``); LiteRT and ONNX need
            ``pip install 'sfkeras[export]'``. Each is checked against the Keras
            generator as it is written.
        truncation_psi: psi of every artifact (the SavedModel's ``serving_default``).
    """

    network: Literal["final", "best"] = "final"
    formats: tuple[str, ...] = EXPORT_FORMATS
    truncation_psi: float = 1.0

    def validate(self) -> None:
        unknown = [name for name in self.formats if name not in EXPORT_FORMATS]
        if unknown or not self.formats:
            self.fail("formats", f"must name one or more of {list(EXPORT_FORMATS)}, got "
                      f"{list(self.formats)}")
        if len(set(self.formats)) != len(self.formats):
            self.fail("formats", f"names a format twice: {list(self.formats)}")
