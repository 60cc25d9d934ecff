"""The one exception type of :mod:`sfkeras.data`."""


class DataError(RuntimeError):
    """A data source or prepared data set cannot be used; the message says what to do."""
