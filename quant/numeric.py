"""Small numeric helpers that several stages share: one home each."""

from __future__ import annotations

import numpy as np


def is_integer(value: object) -> bool:
    """Whether `value` is a Python or NumPy integer (a bool is not, though Python says it is)."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def weighted_means(
    points: np.ndarray, weights: np.ndarray | None, labels: np.ndarray, n_labels: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Mean point of each label, weighted, and the weight behind it.

    Parameters
    ----------
    points : ndarray, shape (n, d)
    weights : ndarray, shape (n,), or None for equal weights
    labels : ndarray of int, shape (n,)
        Values 0 … n_labels-1; gaps are allowed.
    n_labels : int, optional
        Rows of the result; by default ``labels.max() + 1``.

    Returns
    -------
    means : ndarray of float64, shape (n_labels, d)
        Zero for a label no point has.
    mass : ndarray of float64, shape (n_labels,)
        Summed weight per label.
    """
    n_labels = int(labels.max()) + 1 if n_labels is None else n_labels
    mass = np.bincount(labels, weights=weights, minlength=n_labels).astype(np.float64)
    # One channel at a time: no weighted copy of all the points at once.
    sums = np.stack(
        [
            np.bincount(labels, weights=points[:, c] if weights is None else weights * points[:, c], minlength=n_labels)
            for c in range(points.shape[1])
        ],
        axis=1,
    )
    means = np.zeros_like(sums)
    np.divide(sums, mass[:, None], out=means, where=mass[:, None] > 0)
    return means, mass
