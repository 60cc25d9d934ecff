"""One-hot class labels ``c [N, c_dim]`` for conditional generators: drawn from a data
set's label distribution, or set in a fixed pattern (a class per grid row)."""

from __future__ import annotations

import numpy as np


def one_hot(labels, c_dim: int) -> np.ndarray:
    """Integer labels ``[N]`` -> float32 one-hot ``[N, c_dim]``.

    Raises:
        ValueError: a label is outside ``[0, c_dim)``, naming it.
    """
    labels = np.asarray(labels, np.int64)
    outside = labels[(labels < 0) | (labels >= c_dim)]
    if outside.size:
        raise ValueError(f"class {int(outside[0])} is out of range: the network has "
                         f"{c_dim} classes (0-{c_dim - 1})")
    return np.eye(c_dim, dtype=np.float32)[labels]


def draw_labels(distribution: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` one-hot labels drawn independently from ``distribution`` (``[c_dim]``,
    summing to 1): ``float32 [count, c_dim]``."""
    distribution = np.asarray(distribution, np.float64)
    return one_hot(rng.choice(len(distribution), size=count, p=distribution),
                   len(distribution))


def cycled_labels(count: int, c_dim: int) -> np.ndarray:
    """One-hot labels of ``count`` images, image ``i`` of class ``i mod c_dim``:
    ``float32 [count, c_dim]``."""
    return one_hot(np.arange(count) % c_dim, c_dim)


def row_labels(rows: int, columns: int, c_dim: int) -> np.ndarray:
    """One-hot labels of a ``rows`` x ``columns`` grid, row-major, row ``r`` of class
    ``r mod c_dim``: ``float32 [rows * columns, c_dim]``."""
    return one_hot(np.repeat(np.arange(rows) % c_dim, columns), c_dim)
