"""The identities experiment (C1-C3): verdicts follow the measurements; deterministic."""

from implicit_em.experiments import identities


def test_identities_verdicts_follow_the_measurements():
    cfg = identities.Config(trials=1, scales=(1.0,))

    def rows(errors):
        return [
            {
                "regime": r,
                "claim": c,
                "dtype": dt,
                "scale": 1.0,
                "trials": 1,
                "max_abs_error": errors.get(r, 1e-16),
                "median_abs_error": 0.0,
                "all_finite": True,
            }
            for r, c in identities.REGIMES.items()
            for dt in identities.DTYPES
        ]

    def verdicts(errors):
        from implicit_em.experiments.rules import grade

        tables = {"identities": identities.claim_tables(rows(errors))[0]}
        return {v.claim: v.verdict for v in grade(identities.RULES, tables, cfg, stochastic=False)}

    base = {"control": 1.0, "ce_literal": 2.0}
    assert verdicts(base) == {
        "C1": "confirmed",
        "C2": "confirmed",
        "C3": "confirmed",
        "C4": "confirmed",
    }
    assert verdicts({**base, "lse": 0.3})["C1"] == "refuted"
    assert verdicts({**base, "attention": 1e-8})["C3"] == "partly"
    assert verdicts({**base, "ce_hard": 1e-8})["C2"] == "partly"
    assert verdicts({**base, "ce_soft": 0.5})["C2"] == "refuted"
    # a control went undetected: the check proves nothing
    assert verdicts({"ce_literal": 2.0})["C1"] == "open"
    assert verdicts({"control": 1.0, "ce_literal": 1e-16})["C2"] == "open"


def test_identities_is_deterministic_given_the_seed(tmp_path):
    cfg = identities.Config(trials=2, scales=(1e-2, 1e3))
    a = identities.run(cfg, tmp_path)["tables"]["errors"]
    b = identities.run(cfg, tmp_path)["tables"]["errors"]
    assert a == b
