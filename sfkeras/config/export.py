"""SavedModel export (``export:`` in ``params.yaml``)."""

from __future__ import annotations

import dataclasses

from sfkeras.config.base import Section


@dataclasses.dataclass(frozen=True)
class ExportConfig(Section):
    """Options of the exported SavedModel.

    Attributes:
        truncation_psi: default psi of the ``serving_default`` signature.
    """

    truncation_psi: float = 1.0
