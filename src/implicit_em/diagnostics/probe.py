"""Linear probe: how linearly decodable are labels from frozen features?"""

from __future__ import annotations

import warnings

import numpy as np
import torch

from .._checks import TensorLike


def _numpy(x, name):
    if isinstance(x, torch.Tensor):
        if x.device.type == "meta":
            raise ValueError(f"{name} is on the 'meta' device and holds no values")
        if x.dtype in (torch.float16, torch.bfloat16):
            x = x.float()  # NumPy has no bfloat16
        x = x.detach().cpu().numpy()
    x = np.asarray(x)
    if x.dtype.kind == "f" and not np.isfinite(x).all():
        raise ValueError(f"{name} contains NaN or Inf")
    if x.dtype.kind == "f" and x.size:
        tiny = np.finfo(x.dtype).tiny
        if (np.abs(x[x != 0]) < tiny).any():  # subnormals: scikit-learn's scaler divides by
            x = np.where(np.abs(x) < tiny, 0, x).astype(x.dtype)  # their zero std -> NaN
    return x


def linear_probe(
    train_features: TensorLike,
    train_labels: TensorLike,
    test_features: TensorLike,
    test_labels: TensorLike,
    *,
    seed: int = 0,
    C: float = 1.0,
    max_iter: int = 1000,
) -> dict:
    """Multinomial logistic regression on standardised frozen features (scikit-learn).

    The scaler is fitted on the training features only. Returns ``train_accuracy``,
    ``test_accuracy``, ``n_features`` and ``converged``.

    Examples:
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
                f"{name}_features must be (n, d) and {name}_labels (n,), got {x.shape} and "
                f"{y.shape}"
            )
        if x.shape[0] == 0 or x.shape[1] == 0:
            raise ValueError(f"{name}_features needs samples and features, got {x.shape}")
    for name, x in (("train_features", xtr), ("test_features", xte)):
        if (
            x.dtype.kind == "f"
            and x.dtype.itemsize <= 4
            and x.size
            and float(np.abs(x).max()) ** 2 * len(x) > 1e37
        ):
            raise ValueError(
                f"{name} has values up to {float(np.abs(x).max()):.3g}: standardising them "
                "overflows float32; rescale the features or pass them as float64 (a "
                "diverged model?)"
            )
    if xtr.shape[1] != xte.shape[1]:
        raise ValueError(
            f"train_features has {xtr.shape[1]} features but test_features {xte.shape[1]}"
        )
    if len(np.unique(ytr)) < 2:
        raise ValueError(
            f"train_labels must contain at least 2 classes (train_features has {len(xtr)} rows)"
        )
    model = make_pipeline(
        StandardScaler(), LogisticRegression(C=C, max_iter=max_iter, random_state=seed)
    )
    from .._sklearn import one_thread

    with warnings.catch_warnings(record=True) as caught, one_thread():
        warnings.simplefilter("always", ConvergenceWarning)
        model.fit(xtr, ytr)
    converged = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
    return {
        "train_accuracy": float(model.score(xtr, ytr)),
        "test_accuracy": float(model.score(xte, yte)),
        "n_features": int(xtr.shape[1]),
        "converged": converged,
    }
