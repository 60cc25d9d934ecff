"""The one exception type of :mod:`sfkeras.data` (defined in :mod:`sfkeras.errors`)."""

from sfkeras.errors import DataError

__all__ = ["DataError"]
