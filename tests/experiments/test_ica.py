"""The ICA experiment (C14 separation): Amari distance and the rule."""

import pytest


def test_amari_distance_and_ica_verdict_rule(tmp_path):
    import numpy as np

    from implicit_em.experiments import ica

    a = np.random.default_rng(0).normal(size=(4, 4))
    perm_scale = np.diag([2.0, -1.0, 0.5, 3.0])[[2, 0, 3, 1]]
    assert ica.amari_distance(perm_scale @ np.linalg.inv(a), a) == pytest.approx(0, abs=1e-12)
    assert ica.amari_distance(np.eye(4), a) > 0.1
    cfg = ica.Config(n_samples=600, n_sources=(3,), epochs=1, batch_size=200)
    res = ica.run(cfg, tmp_path)
    methods = {r["method"] for r in res["tables"]["amari"]}
    assert "FastICA (scikit-learn)" in methods and "pairwise_hsic" in methods
    rows = [dict(r) for r in res["tables"]["amari"]]

    def verdict(second_order, hsic):
        for r in rows:
            if r["method"] in ("gaussian_infomax", "decorrelation+hinge"):
                r["amari"] = second_order
            r["amari"] = {"pairwise_hsic": hsic, "FastICA (scikit-learn)": 0.01}.get(
                r["method"], r["amari"]
            )
        return _graded({"summary": ica.ratio_table(rows)})

    assert verdict(0.3, 0.015) == "confirmed"  # the proxy misses, HSIC separates
    assert verdict(0.3, 0.3) == "refuted"  # HSIC misses too
    assert verdict(0.01, 0.015) == "open"  # the proxy separates: the data test nothing


def _graded(tables, seeds=5):
    from implicit_em.experiments import ica
    from implicit_em.experiments.rules import grade, stack

    return grade(ica.RULES, stack([tables] * seeds, list(range(seeds))), ica.Config())[0].verdict


def test_c14_separation_rule_counts_every_number_of_sources():
    def row(sources, second, hsic, fast=0.01):
        return {"sources": sources, "second_order_over_fastica": second / fast,
                "hsic_over_fastica": hsic / fast}  # fmt: skip

    assert _graded({"summary": [row(4, 0.3, 0.015), row(8, 0.3, 0.02)]}) == "confirmed"
    # HSIC separates 4 sources but not 8: the 8-source failure counts
    assert _graded({"summary": [row(4, 0.3, 0.015), row(8, 0.3, 0.2)]}) == "partly"
    assert _graded({"summary": [row(4, 0.3, 0.3), row(8, 0.3, 0.2)]}) == "refuted"
    # the proxy separates 8 sources: the control fails, nothing is decided
    assert _graded({"summary": [row(4, 0.3, 0.015), row(8, 0.015, 0.02)]}) == "open"
