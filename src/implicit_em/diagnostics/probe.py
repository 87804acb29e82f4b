"""Linear probe: how linearly decodable are labels from frozen features?"""

from __future__ import annotations

import warnings

import numpy as np
import torch

from .._checks import TensorLike, check_count


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


def _checked(train_features, train_labels, test_features, test_labels):
    """The four arrays as NumPy, with a clear error for every shape or value a logistic
    probe cannot take."""
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
    return xtr, ytr, xte, yte


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
    xtr, ytr, xte, yte = _checked(train_features, train_labels, test_features, test_labels)
    return _probe(xtr, ytr, xte, yte, seed, C, max_iter)


def _probe(xtr, ytr, xte, yte, seed: int, C: float, max_iter: int) -> dict:
    """:func:`linear_probe` on arrays already checked."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(
        StandardScaler(), LogisticRegression(C=C, max_iter=max_iter, random_state=seed)
    )
    converged = _fit(model, xtr, ytr)
    return {
        "train_accuracy": float(model.score(xtr, ytr)),
        "test_accuracy": float(model.score(xte, yte)),
        "n_features": int(xtr.shape[1]),
        "converged": converged,
    }


def _fit(model, x: np.ndarray, y: np.ndarray) -> bool:
    """Fit ``model`` on one thread (the same numbers on any machine); ``True`` when the
    solver converged."""
    from sklearn.exceptions import ConvergenceWarning

    from .._sklearn import one_thread

    with warnings.catch_warnings(record=True) as caught, one_thread():
        warnings.simplefilter("always", ConvergenceWarning)
        model.fit(x, y)
    return not any(issubclass(w.category, ConvergenceWarning) for w in caught)


PROBE_CS = (0.01, 0.1, 1.0, 10.0)  # the regularisations tuned_probe chooses from
# the feature powers tuned_probe chooses from: sign(f) |f|^power before standardising
# (power normalisation); 0.1 turns the near one-hot softmax(5 u) of SoftHebb's authors into
# softmax(0.5 u), 1 leaves the features as they are
PROBE_POWERS = (1.0, 0.5, 0.2, 0.1)


def signed_power(x: TensorLike, power: float) -> np.ndarray:
    """``sign(x) |x|^power``, element-wise (power normalisation; ``power = 1`` returns the
    values as they are), as a NumPy array of ``x``'s shape (float64 for integer or bool
    input). ``power`` is in ``(0, 1]``; ``x`` must be finite.

    Examples:
        >>> signed_power(np.array([[-4.0, 0.0, 9.0]]), 0.5)
        array([[-2.,  0.,  3.]])
    """
    if isinstance(power, bool) or not isinstance(power, (int, float)) or not 0 < power <= 1:
        raise ValueError(f"power must be a number in (0, 1], got {power!r}")
    a: np.ndarray = _numpy(x, "x")
    if a.dtype.kind not in "biuf":
        raise TypeError(f"x must hold real numbers, got dtype {a.dtype}")
    if a.dtype.kind != "f":
        a = a.astype(np.float64)
    return a if power == 1.0 else np.sign(a) * np.abs(a) ** power


def tuned_probe(
    train_features: TensorLike,
    train_labels: TensorLike,
    test_features: TensorLike,
    test_labels: TensorLike,
    *,
    Cs: tuple[float, ...] = PROBE_CS,
    powers: tuple[float, ...] = PROBE_POWERS,
    held_out: int = 10000,
    seed: int = 0,
    max_iter: int = 1000,
    fixed: dict | None = None,
) -> dict:
    """:func:`linear_probe` on power-normalised features ``sign(f) |f|^power``, with the
    power and the inverse regularisation ``C`` chosen on held-out training rows; the
    test rows never choose.

    The last ``held_out`` training rows (a sixth when there are fewer than ``6 held_out``)
    choose, fitted on the other rows: first ``C`` on the features as they are (power 1;
    each in ``Cs``, fitted in ascending order, each fit starting from the previous one's
    weights; the smallest among equal scores); then each other power at that ``C``. A
    power below 1 is chosen only where it scores above power 1 (the largest among equal
    scores), and ``C`` is then chosen again at it. The chosen pair is refitted on every
    training row and scored on the test rows. The power is a read-out choice that any
    learner's features get alike: it lets a linear probe read near one-hot codes (a
    softmax at a low temperature) as well as their softer versions.

    Args:
        train_features: the training features ``(N, d)``; the last ``held_out`` rows
            choose the power and ``C``.
        train_labels: their integer labels ``(N,)``.
        test_features: the test features ``(n, d)``, scored once, at the chosen pair.
        test_labels: their labels.
        Cs: the candidate ``C`` (inverse L2 strength, scikit-learn's).
        powers: the candidate feature powers, each in ``(0, 1]`` (1 is always tried).
        held_out: how many of the last training rows score the candidates.
        seed: the solver's ``random_state``.
        max_iter: L-BFGS iterations per fit.
        fixed: the :func:`linear_probe` result already measured at ``C = 1`` with this
            ``seed`` and ``max_iter``; reused when power 1 and ``C = 1`` are chosen.

    Returns:
        :func:`linear_probe`'s keys, plus ``C`` and ``power`` (the chosen),
        ``val_accuracy`` (``{C: held-out accuracy}`` at the chosen power) and
        ``power_val_accuracy`` (``{power: held-out accuracy}`` at the ``C`` chosen for
        power 1).

    Examples:
        >>> g = torch.Generator().manual_seed(0)
        >>> x = torch.randn(600, 5, generator=g)
        >>> y = (x[:, 0] > 0).long()
        >>> out = tuned_probe(x[:500], y[:500], x[500:], y[500:], held_out=100)
        >>> sorted(out["val_accuracy"]) == sorted(PROBE_CS), out["test_accuracy"] > 0.9
        (True, True)
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    held_out = check_count(held_out, "held_out")
    if not Cs or any(not c > 0 for c in Cs):
        raise ValueError(f"Cs must be one or more positive numbers, got {Cs!r}")
    if not powers or any(not 0 < p <= 1 for p in powers):
        raise ValueError(f"powers must be one or more numbers in (0, 1], got {powers!r}")
    xtr, ytr, xte, yte = _checked(train_features, train_labels, test_features, test_labels)
    n = len(xtr)
    n_val = held_out if n >= 6 * held_out else n // 6
    if n_val < 1 or len(np.unique(ytr[: n - n_val])) < 2:
        raise ValueError(f"train_features has {n} rows: tuned_probe holds out the last "
                         f"{max(n_val, 1)} to choose C and needs two classes among the rest; "
                         "pass more rows")  # fmt: skip
    fit_y, val_y = ytr[: n - n_val], ytr[n - n_val :]

    def split(power: float) -> tuple[np.ndarray, np.ndarray]:
        x = signed_power(xtr, power)
        scaler = StandardScaler().fit(x[: n - n_val])
        return scaler.transform(x[: n - n_val]), scaler.transform(x[n - n_val :])

    def choose_c(fit_x, val_x) -> dict[float, float]:  # {C: held-out accuracy}
        model = LogisticRegression(max_iter=max_iter, random_state=seed, warm_start=True)
        scores = {}
        for c in sorted(Cs):
            model.set_params(C=c)
            _fit(model, fit_x, fit_y)
            scores[c] = float(model.score(val_x, val_y))
        return scores

    scores = choose_c(*split(1.0))
    best = max(scores, key=lambda c: (scores[c], -c))
    by_power, best_power, kept = {1.0: scores[best]}, 1.0, None
    for power in sorted(set(powers) - {1.0}, reverse=True):  # ties: the larger power
        model = LogisticRegression(C=best, max_iter=max_iter, random_state=seed)
        powered = split(power)
        _fit(model, powered[0], fit_y)
        by_power[power] = float(model.score(powered[1], val_y))
        if by_power[power] > by_power[best_power]:
            best_power, kept = power, powered  # its split, reused for choosing C
    if kept is not None:
        scores = choose_c(*kept)
        best = max(scores, key=lambda c: (scores[c], -c))
    if best == 1.0 and best_power == 1.0 and fixed is not None:
        out = dict(fixed)
    else:  # checked above; the power keeps every value finite
        out = _probe(signed_power(xtr, best_power), ytr, signed_power(xte, best_power), yte,
                     seed, best, max_iter)  # fmt: skip
    return {**out, "C": best, "val_accuracy": scores, "power": best_power,
            "power_val_accuracy": by_power}  # fmt: skip
