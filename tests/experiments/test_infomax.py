"""The InfoMax experiment (C13, C14 detection) and its decision rules."""

import pytest


def _feature_rows(ds="digits", k=8, infomax=(0.9, 0.05, 0.1), pca=(0.9, 0.2)):
    """Feature rows of one cell: InfoMax (probe, |corr|, pair TC), PCA (probe, pair TC)."""
    base = {"dataset": ds, "K": k, "dead_units": 0}
    rows = [
        dict(base, method="PCA", probe_accuracy=pca[0], mean_abs_corr=0.0,
             pair_spacing_tc=pca[1]),
    ]  # fmt: skip
    for name in ("gaussian_infomax", "gaussian_infomax lam=2", "gaussian_infomax+offdiag"):
        rows.append(
            dict(base, method=name, probe_accuracy=infomax[0], mean_abs_corr=infomax[1],
                 pair_spacing_tc=infomax[2])
        )  # fmt: skip
    # the held-out training images measure the same (the selection's own measures)
    return [dict(r, **{f"val_{c}": r[c] for c in ("dead_units", "probe_accuracy",
                                                  "mean_abs_corr", "pair_spacing_tc")})
            for r in rows]  # fmt: skip


def test_c13_chooses_its_variant_on_held_out_training_images_not_the_test_set():
    from implicit_em.experiments.infomax import c13_cells

    rows = _feature_rows()
    at = {r["method"]: r for r in rows}
    at["gaussian_infomax"]["probe_accuracy"] = 0.99  # the best on the test set only
    at["gaussian_infomax+offdiag"]["val_probe_accuracy"] = 0.95  # the best held out
    (cell,) = c13_cells(rows, {"digits": 64}, 0.1)
    assert cell["variant"] == "gaussian_infomax+offdiag"
    assert cell["advantage"] == pytest.approx(0.0)  # graded on its test measures
    # held-out redundancy outranks accuracy, as on the test set before
    at["gaussian_infomax lam=2"]["val_mean_abs_corr"] = 0.5
    at["gaussian_infomax+offdiag"]["val_mean_abs_corr"] = 0.5
    assert c13_cells(rows, {"digits": 64}, 0.1)[0]["variant"] == "gaussian_infomax"


def _graded(tables):
    from implicit_em.experiments import infomax as exp
    from implicit_em.experiments.rules import grade, stack

    rules = [r for r in exp.RULES if r.table in tables]
    return grade(rules, stack([tables] * 5, [0, 1, 2, 3, 4]), exp.Config())[0].verdict


def test_c13_rule_gives_each_outcome():
    from implicit_em.experiments.infomax import c13_cells

    def verdict(rows, d=64):
        return _graded({"c13_cells": c13_cells(rows, {"digits": d, "mnist": 784}, 0.1)})

    assert verdict(_feature_rows(infomax=(0.92, 0.05, 0.1))) == "confirmed"  # beats PCA
    assert verdict(_feature_rows(infomax=(0.895, 0.05, 0.1))) == "confirmed"  # 0.5 below
    assert verdict(_feature_rows(infomax=(0.85, 0.05, 0.1))) == "partly"  # 5 points below
    # more non-linear dependence than PCA (so redundant) and 5 points below PCA: both
    # primary cells fail, refuted (no dead unit is secondary); with dead units as well
    assert verdict(_feature_rows(infomax=(0.85, 0.05, 0.5))) == "refuted"
    dead = [dict(r, dead_units=2) for r in _feature_rows(infomax=(0.85, 0.4, 0.5))]
    assert verdict(dead) == "refuted"
    # K > D: unreachable, neither passed nor failed; only such cells: open
    wide = _feature_rows(k=128, infomax=(0.95, 0.5, 0.9))
    cells = c13_cells(wide, {"digits": 64}, 0.1)
    assert cells[0]["unreachable"] and _graded({"c13_cells": cells}) == "open"
    both = _feature_rows(infomax=(0.92, 0.05, 0.1)) + wide
    assert verdict(both) == "confirmed"


def test_c14_rule_on_learned_features_gives_each_outcome():
    from implicit_em.experiments.infomax import LEARNED, c14_detection, c14_learned

    cases = ("linear", "quadratic", "absolute", "circle", "heteroscedastic")

    def detection(hsic, null_hsic=0.5):
        out = [{"case": "independent", "gaussian_p": 0.5, "hsic_p": null_hsic}]
        out += [{"case": c, "gaussian_p": 0.0 if c == "linear" else 0.5,
                 "hsic_p": 0.0 if c in hsic else 0.5} for c in cases]  # fmt: skip
        return [c14_detection(out, 0.05)]

    def verdict(proxy_pairs, hsic_pairs, hsic=cases, null_hsic=0.5):
        """Pairs as (hsic_p, gaussian_p) of the proxy- and the HSIC-trained layer."""
        tests = [{"dataset": "digits", "method": m, "hsic_p": h, "gaussian_p": g}
                 for m, pairs in zip(LEARNED, (proxy_pairs, hsic_pairs), strict=True)
                 for h, g in pairs]  # fmt: skip
        return _graded({"c14_learned": c14_learned(tests, 0.05),
                        "c14_detection": detection(hsic, null_hsic)})  # fmt: skip

    clean, missed = (0.5, 0.5), (0.0, 0.5)  # independent; dependent, correlation blind
    # the proxy leaves one dependent pair in ten, as HSIC training does, and it is one the
    # correlation test does not see
    one = [missed] + [clean] * 9
    assert verdict(one, one) == "confirmed"
    # the primary test: the proxy leaves at most proxy_slack more dependent pairs
    assert verdict([missed] * 5 + [clean] * 5, [clean] * 10) == "refuted"  # proxy leaves 50 %
    assert verdict([(0.0, 0.0)] * 5 + [clean] * 5, [clean] * 10) == "refuted"  # corr sees all
    # the pair left is one the correlation test sees: a secondary cell fails, the proxy
    # is still good enough
    seen = [(0.0, 0.0)] + [clean] * 9
    assert verdict(seen, seen) == "confirmed"
    # HSIC has no power on known dependences (or flags the independent pair): open
    assert verdict(one, one, hsic=cases[:2]) == "open"
    assert verdict(one, one, null_hsic=0.0) == "open"


def test_infomax_experiment_small_run_and_verdict_rules(tmp_path):
    from implicit_em.experiments import infomax as exp

    cfg = exp.Config(
        datasets=("digits",),
        widths=(8,),
        epochs=1,
        tc_pairs=4,
        tc_rows=300,
        pair_samples=300,
        pair_tests=3,
        permutations=49,
        alpha=0.05,
    )
    res = exp.run(cfg, tmp_path)
    methods = {r["method"] for r in res["tables"]["features"]}
    assert {"PCA", "FastICA", "sparse autoencoder", "gaussian_infomax"} <= methods
    pairs = {p["case"]: p for p in res["tables"]["dependence"]}
    assert pairs["circle"]["hsic_p"] < 0.05 < pairs["circle"]["gaussian_p"]  # corr misses it
    assert [c["K"] for c in res["tables"]["c13_cells"]] == [8]
    assert 0 <= res["tables"]["c14_detection"][0]["proxy_share"] <= 1 and "verdicts" not in res
    learned = res["tables"]["learned_pairs"]
    assert len(learned) == 2 * cfg.pair_tests and {t["method"] for t in learned} == set(exp.LEARNED)
    (c27,) = res["tables"]["c27"]
    assert c27["K"] == 8 and 0 < c27["pattern_share"] <= 1 and c27["over_others"] > 0
    (c14,) = res["tables"]["c14_learned"]
    assert 0 <= c14["missed_share"] <= c14["proxy_dependent"] <= 1
    with pytest.raises(ValueError, match="permutations"):
        exp.run(exp.Config(permutations=10, alpha=0.01), tmp_path)


def test_c27_rule_gives_each_outcome():
    from implicit_em.experiments.infomax import c27_cells, ideal_patterns

    def verdict(infomax, others, n=300, k=16):
        rows = [{"dataset": "digits", "K": k, "method": m, "sign_patterns": p,
                 "pattern_share": p / ideal_patterns(k, n), "val_sign_patterns": p,
                 "binary_probe_accuracy": 0.8}
                for m, p in (("gaussian_infomax", infomax), ("PCA", others),
                             ("random projection", others))]  # fmt: skip
        return _graded({"c27": c27_cells(rows)})

    assert verdict(300, 290) == "confirmed"  # every image its own pattern, the most
    assert verdict(300, 300) == "confirmed"  # a tie is as many
    assert verdict(200, 150) == "refuted"  # the most, but far from min(2^K, n)
    assert verdict(100, 290) == "refuted"


def test_ideal_patterns_is_the_birthday_expectation():
    import numpy as np

    from implicit_em.experiments.infomax import c27_cells, ideal_patterns

    # against simulation: 4 fair bits on 20 images, 2000 draws (SE of the mean ~0.03)
    rng = np.random.default_rng(0)
    draws = [len(np.unique(rng.integers(0, 16, 20))) for _ in range(2000)]
    assert abs(np.mean(draws) - ideal_patterns(4, 20)) < 4 * np.std(draws) / np.sqrt(2000)
    assert ideal_patterns(16, 10_000) < 0.93 * min(2**16, 10_000)  # below min(2^K, n)
    # C27 picks its variant by the held-out patterns, never the test ones
    rows = [{"dataset": "d", "K": 4, "method": m, "sign_patterns": p, "val_sign_patterns": v,
             "pattern_share": p / ideal_patterns(4, 20), "binary_probe_accuracy": 0.5}
            for m, p, v in (("gaussian_infomax", 16, 9), ("gaussian_infomax lam=2", 9, 12),
                            ("PCA", 10, 10))]  # fmt: skip
    (cell,) = c27_cells(rows)
    assert cell["variant"] == "gaussian_infomax lam=2" and cell["over_others"] == 0.9
