"""Linear probe: how linearly decodable are labels from frozen features?"""

from __future__ import annotations

import warnings

import numpy as np
import torch


def _numpy(x, name):
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    x = np.asarray(x)
    if x.dtype.kind == "f" and not np.isfinite(x).all():
        raise ValueError(f"{name} contains NaN or Inf")
    return x


def linear_probe(
    train_features,
    train_labels,
    test_features,
    test_labels,
    *,
    seed: int = 0,
    C: float = 1.0,
    max_iter: int = 1000,
) -> dict:
    """Multinomial logistic regression on standardised frozen features (scikit-learn).

    The scaler is fitted on the training features only. Returns ``train_accuracy``,
    ``test_accuracy``, ``n_features`` and ``converged``.

    Example:
        >>> x = np.r_[np.zeros((20, 2)), np.ones((20, 2))] + 0.01 * np.arange(40)[:, None]
        >>> y = np.r_[np.zeros(20), np.ones(20)].astype(int)
        >>> linear_probe(x, y, x, y)["test_accuracy"]
        1.0
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    xtr, xte = _numpy(train_features, "train_features"), _numpy(test_features, "test_features")
    ytr, yte = _numpy(train_labels, "train_labels"), _numpy(test_labels, "test_labels")
    for name, x, y in (("train", xtr, ytr), ("test", xte, yte)):
        if x.ndim != 2 or y.ndim != 1 or len(x) != len(y):
            raise ValueError(
                f"{name} features must be (n, d) and labels (n,), got {x.shape} and {y.shape}"
            )
    if xtr.shape[1] != xte.shape[1]:
        raise ValueError(f"train has {xtr.shape[1]} features but test has {xte.shape[1]}")
    if len(np.unique(ytr)) < 2:
        raise ValueError("train_labels must contain at least 2 classes")
    model = make_pipeline(
        StandardScaler(), LogisticRegression(C=C, max_iter=max_iter, random_state=seed)
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        model.fit(xtr, ytr)
    converged = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
    return {
        "train_accuracy": float(model.score(xtr, ytr)),
        "test_accuracy": float(model.score(xte, yte)),
        "n_features": int(xtr.shape[1]),
        "converged": converged,
    }
