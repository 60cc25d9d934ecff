"""The one exception type of :mod:`sfkeras.data`."""

from sfkeras.errors import SfkerasError


class DataError(SfkerasError, RuntimeError):
    """A data source or prepared data set cannot be used; the message says what to do."""

    exit_code = 3
    kind = "data error"
