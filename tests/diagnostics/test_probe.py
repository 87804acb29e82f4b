"""The linear probe: separable data against shuffled labels."""

import numpy as np
import pytest

from implicit_em import diagnostics as D
from implicit_em.data import load_dataset


def test_linear_probe_separable_vs_shuffled():
    ds = load_dataset("digits", seed=0)
    good = D.linear_probe(ds.X_train, ds.y_train, ds.X_test, ds.y_test)
    assert good["test_accuracy"] > 0.9 and good["train_accuracy"] > 0.97
    rng = np.random.default_rng(0)
    bad = D.linear_probe(ds.X_train, rng.permutation(ds.y_train), ds.X_test, ds.y_test)
    assert bad["test_accuracy"] < 0.2  # chance is 0.1
    x = np.r_[rng.normal(-3, 1, (100, 2)), rng.normal(3, 1, (100, 2))]
    y = np.r_[np.zeros(100), np.ones(100)].astype(int)
    assert D.linear_probe(x, y, x, y)["test_accuracy"] == 1.0
    huge = (x * 1e20).astype(np.float32)  # finite, but standardising overflows float32
    with pytest.raises(ValueError, match=r"train_features has values up to .* overflows"):
        D.linear_probe(huge, y, x, y)
    assert D.linear_probe(huge.astype(np.float64), y, x * 1e20, y)["test_accuracy"] == 1.0
    subnormal = np.c_[x, np.where(y == 1, 1e-45, 0.0)].astype(np.float32)  # std 0 in float32
    assert D.linear_probe(subnormal, y, subnormal, y)["test_accuracy"] == 1.0


def test_tuned_probe_chooses_on_held_out_rows_only():
    """The chosen C is the best on the last held-out training rows (recomputed here with
    scikit-learn directly), whatever the test rows say; its test score is linear_probe's
    at that C; a fixed C = 1 result is reused when 1 wins."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    ds = load_dataset("digits", seed=0)
    x, y = ds.X_train, ds.y_train
    out = D.tuned_probe(x, y, ds.X_test, ds.y_test, held_out=200, Cs=(0.001, 0.1, 10.0))
    fit, val = slice(0, len(x) - 200), slice(len(x) - 200, None)
    sc = StandardScaler().fit(x[fit])
    want = {c: LogisticRegression(C=c, max_iter=1000).fit(sc.transform(x[fit]), y[fit])
            .score(sc.transform(x[val]), y[val]) for c in (0.001, 0.1, 10.0)}  # fmt: skip
    assert out["val_accuracy"].keys() == want.keys()
    for c in want:  # warm-started fits reach the same optimum (a convex problem)
        assert abs(out["val_accuracy"][c] - want[c]) <= 1 / 200 + 1e-12
    assert out["val_accuracy"][out["C"]] == max(out["val_accuracy"].values())
    assert out["val_accuracy"][0.001] < out["val_accuracy"][out["C"]]  # C matters here
    again = D.linear_probe(x, y, ds.X_test, ds.y_test, C=out["C"])
    assert out["test_accuracy"] == again["test_accuracy"]
    # the test labels do not choose: shuffling them leaves C unchanged
    rng = np.random.default_rng(0)
    shuffled = D.tuned_probe(x, y, ds.X_test, rng.permutation(ds.y_test), held_out=200,
                             Cs=(0.001, 0.1, 10.0))  # fmt: skip
    assert shuffled["C"] == out["C"] and shuffled["test_accuracy"] < 0.2
    fixed = {"test_accuracy": -1.0, "train_accuracy": -1.0}
    reused = D.tuned_probe(x, y, ds.X_test, ds.y_test, held_out=200, Cs=(1.0,), fixed=fixed)
    assert reused["C"] == 1.0 and reused["test_accuracy"] == -1.0
    with pytest.raises(ValueError, match="Cs must be"):
        D.tuned_probe(x, y, x, y, Cs=(0.0,))


def test_tuned_probe_chooses_a_feature_power_on_held_out_rows():
    """Near one-hot features (a sharp softmax of random projections) read poorly as they
    are; the probe's power, chosen on held-out rows (recomputed with scikit-learn, C = 1
    the only candidate), softens them, and its test score is linear_probe's on the powered
    features. With every C a candidate, C is chosen first on the features as they are."""
    import torch
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    ds = load_dataset("digits", seed=0)
    mu, sd = ds.X_train.mean(0), ds.X_train.std(0) + 1
    proj = np.random.default_rng(0).normal(size=(64, 300))

    def sharp(x):  # softmax(2 z R): mostly one unit per row
        return torch.softmax(torch.as_tensor(2.0 * ((x - mu) / sd) @ proj), 1).numpy()

    x, y, xt = sharp(ds.X_train), ds.y_train, sharp(ds.X_test)
    out = D.tuned_probe(x, y, xt, ds.y_test, held_out=200, Cs=(1.0,))
    fit, val = slice(0, len(x) - 200), slice(len(x) - 200, None)
    for power, got in out["power_val_accuracy"].items():
        z = D.signed_power(x, power)
        sc = StandardScaler().fit(z[fit])
        want = LogisticRegression(max_iter=1000).fit(sc.transform(z[fit]), y[fit])
        assert abs(got - want.score(sc.transform(z[val]), y[val])) <= 1 / 200 + 1e-12
    assert sorted(out["power_val_accuracy"]) == sorted(D.PROBE_POWERS)
    assert out["power_val_accuracy"][out["power"]] == max(out["power_val_accuracy"].values())
    assert out["power"] < 1.0  # 0.915 at power 1 against 0.985 at 0.1 (measured)
    assert out["power_val_accuracy"][out["power"]] >= out["power_val_accuracy"][1.0] + 0.03
    again = D.linear_probe(D.signed_power(x, out["power"]), y,
                           D.signed_power(xt, out["power"]), ds.y_test, C=out["C"])  # fmt: skip
    assert out["test_accuracy"] == again["test_accuracy"]
    assert np.array_equal(D.signed_power(x, 1.0), x)
    every = D.tuned_probe(x, y, xt, ds.y_test, held_out=200)
    assert every["power"] < 1.0 and sorted(every["val_accuracy"]) == sorted(D.PROBE_CS)
    assert every["power_val_accuracy"][1.0] < every["power_val_accuracy"][every["power"]]
    with pytest.raises(ValueError, match=r"powers must be .* in \(0, 1\]"):
        D.tuned_probe(x, y, x, y, powers=(2.0,))
