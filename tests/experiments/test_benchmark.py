"""The standard benchmark: goals graded on intervals, cells resumed, quick run end to end."""

from helpers import stand_in_mnist
from implicit_em.experiments import benchmark as B


def _graded(accuracy: dict[tuple, list[float]], curves=()) -> dict[tuple, str]:
    from implicit_em.experiments.rules import grade_goals

    fits = [{"K": k, "learner": name, "seed": s, "probe_accuracy": a, "fit_s": 1.0,
             "tuned_probe_accuracy": None, "power_accuracy": None}
            for (k, name), accs in accuracy.items() for s, a in enumerate(accs)]  # fmt: skip
    tables = {"fits": fits, "curves": list(curves)}
    tables |= B.across_seeds(tables, B.Config())
    return {(g["goal"], g["cell"]): g["outcome"] for g in grade_goals(B.GOALS, tables, B.Config())}


def test_goals_can_be_met_missed_or_unresolved():
    out = _graded({
        (2000, B.IEM): [0.990, 0.991, 0.989],
        (2000, "triangle k-means"): [0.977, 0.978, 0.976],  # clearly below: met
        (2000, "SoftHebb"): [0.996, 0.997, 0.998],  # clearly above: missed
        (2000, "Krotov-Hopfield"): [0.985, 0.995, 0.990],  # the difference straddles 0
        (64, B.IEM): [0.920, 0.921, 0.919],
    })  # fmt: skip
    beat = "beat every local learner (fixed probe)"
    cell = "K=2000, learner={}: versus.probe_accuracy_below_ref"
    assert out[beat, cell.format("triangle k-means")] == "met"
    assert out[beat, cell.format("SoftHebb")] == "missed"
    assert out[beat, cell.format("Krotov-Hopfield")] == "not resolved at 3 seeds"
    reach = {goal: o for (goal, c), o in out.items() if goal.startswith("reach ")}
    fixed = {g: o for g, o in reach.items() if g.endswith("(fixed probe)")}
    assert fixed == {"reach Krotov-Hopfield's published accuracy (fixed probe)": "met",
                     "reach the author's published encoder (fixed probe)": "missed"}  # fmt: skip
    # the other read-outs were not measured in these rows: graded as such, not as missed
    others = {o for g, o in reach.items() if g not in fixed}
    assert len(reach) == 6 and all(o.startswith("not measured") for o in others)


def test_each_readout_has_its_own_goals():
    """The same accuracies under the tuned probe grade that read-out's goals alone."""
    from implicit_em.experiments.rules import grade_goals

    accs = {(2000, B.IEM): [0.990, 0.991, 0.989], (2000, "SoftHebb"): [0.996, 0.997, 0.998],
            (64, B.IEM): [0.95, 0.95, 0.95]}  # fmt: skip
    fits = [{"K": k, "learner": n, "seed": s, "probe_accuracy": 0.5, "fit_s": 1.0,
             "tuned_probe_accuracy": a, "power_accuracy": None}
            for (k, n), xs in accs.items() for s, a in enumerate(xs)]  # fmt: skip
    tables = {"fits": fits, "curves": []}
    tables |= B.across_seeds(tables, B.Config())
    out = {(g["goal"], g["cell"]): g["outcome"] for g in grade_goals(B.GOALS, tables, B.Config())}
    tuned = {g: o for (g, _), o in out.items() if "(tuned probe)" in g}
    assert tuned == {"beat every local learner (tuned probe)": "missed",
                     "reach Krotov-Hopfield's published accuracy (tuned probe)": "met",
                     "reach the author's published encoder (tuned probe)": "met"}  # fmt: skip
    assert (
        out[
            "reach Krotov-Hopfield's published accuracy (fixed probe)",
            "learner=implicit-EM layer, K=2000: fits.probe_accuracy",
        ]
        == "missed"
    )


def test_the_time_goal_compares_with_softhebbs_fit_time_per_seed():
    def curves(ours_s):
        return [
            {"K": 64, "seed": s, "learner": "SoftHebb", "train_s": 10.0 + s, "quick_probe": 0.9}
            for s in (0, 1, 2)
        ] + [
            {"K": 64, "seed": s, "learner": B.IEM, "train_s": t + s, "quick_probe": a}
            for s in (0, 1, 2)
            for t, a in ((ours_s, 0.85), (2 * ours_s, 0.91))
        ]

    def time_goals(c):
        rows = B.softhebb_time(c)
        assert [r["seed"] for r in rows] == [0, 1, 2]
        return {g: o for (g, _), o in _graded({(64, B.IEM): [0.9] * 3}, c).items()
                if "SoftHebb" in g or "wall time" in g}  # fmt: skip

    assert B.softhebb_time(curves(4.0))[0]["time_ratio"] == 0.8  # reaches 0.91 at 8 s < 10 s
    fast = time_goals(curves(4.0))
    assert set(fast.values()) == {"met"} and len(fast) == 2
    slow = time_goals(curves(6.0))  # at 12 s
    assert slow["... in no more wall time than SoftHebb"] == "missed"
    never = time_goals([c for c in curves(4.0) if c["quick_probe"] != 0.91])
    assert never["reach SoftHebb's accuracy"] == "missed"  # and no time to compare:
    assert never["... in no more wall time than SoftHebb"] == "not measured (no seed gave a value)"


def test_a_benchmark_seed_resumes_its_finished_cells(tmp_path, monkeypatch):
    stand_in_mnist(monkeypatch, B, 120, 60, "stand-in")
    calls = []
    real = B.measure_cell

    def counted(name, k, cfg, data):
        calls.append((name, k))
        return real(name, k, cfg, data)

    monkeypatch.setattr(B, "measure_cell", counted)
    cfg = B.Config(widths=(4,), learners=(B.IEM, "SoftHebb"), iem_epochs=2, curve_train=60)
    first = B.run(cfg, tmp_path)
    assert calls == [(B.IEM, 4), ("SoftHebb", 4)]  # in cfg.learners order
    assert [c["epoch"] for c in first["tables"]["curves"] if c["learner"] == B.IEM] == [1, 2]
    (tmp_path / "cells" / "4-softhebb.json").unlink()  # as if interrupted before it
    again = B.run(cfg, tmp_path)
    assert calls[2:] == [("SoftHebb", 4)]  # the finished cell was not redone
    assert again["tables"]["fits"][0] == first["tables"]["fits"][0]
    monkeypatch.setattr(B, "settings", lambda learner: {"other": "defaults"})
    B.run(cfg, tmp_path)  # a cell made with other settings is measured again
    assert calls[3:] == [(B.IEM, 4), ("SoftHebb", 4)]
    figures = B.plot({**again, "seed": 0, "tables": {
        **again["tables"], **B.across_seeds(again["tables"], cfg)}}, tmp_path)  # fmt: skip
    assert [f["file"] for f in figures] == ["prototypes.png", "accuracy.png",
                                            "accuracy_vs_time.png"]  # fmt: skip
    assert all((tmp_path / f["file"]).stat().st_size > 1000 for f in figures)


def test_the_validation_searches_are_reported(tmp_path):
    import json

    tables = B.validation_searches()  # the committed ones, in this clone
    iem = tables["validation_search_implicit_em"]
    assert any(r["setting"] == "default" and r["K"] == 64 for r in iem)
    assert {r["learner"] for r in tables["validation_search_baselines"]} == {
        "triangle k-means", "SoftHebb", "Krotov-Hopfield"}  # fmt: skip
    (tmp_path / "iem_search.json").write_text(json.dumps({
        "meta": {"seeds": {"64": 3}}, "rows": [{"K": 64, "setting": "default", "val_accuracy": 0.9}]
    }))  # fmt: skip
    found = B.validation_searches(tmp_path)
    assert found["validation_search_implicit_em"] == [
        {"K": 64, "learner": B.IEM, "setting": "default", "val_accuracy": 0.9, "seeds": 3}
    ]
    assert "not found" in found["validation_search_baselines"][0]["note"]


def test_the_reproduction_table_quotes_each_readout_and_the_authors_protocol(tmp_path):
    import json

    summary = [{"K": 2000, "learner": "Krotov-Hopfield", "probe_accuracy": 0.97,
                "probe_accuracy_lo": 0.96, "probe_accuracy_hi": 0.98,
                "tuned_probe_accuracy": 0.971, "tuned_probe_accuracy_lo": None,
                "tuned_probe_accuracy_hi": None, "power_accuracy": None,
                "power_accuracy_lo": None, "power_accuracy_hi": None}]  # fmt: skip
    kw = {"p": 3.0, "k": 7, "lr": 0.02, "epochs": 200}
    (tmp_path / "krotov_reproduction.json").write_text(json.dumps({"meta": {}, "rows": [
        {"setting": "notebook rate, 200 epochs", "readout": "power top layer (the paper's)",
         "test_accuracy": 0.981, "kwargs": kw},
        {"setting": "notebook rate, 200 epochs", "readout": "linear probe, C = 1",
         "test_accuracy": 0.974, "kwargs": kw},
        {"setting": "longer, 1000 epochs", "readout": "power top layer (the paper's)",
         "test_accuracy": 0.984, "kwargs": {**kw, "lr": 0.04, "epochs": 1000}}]}))  # fmt: skip
    rows = B.reproduction(summary, tmp_path)
    kh = [r for r in rows if r["learner"] == "Krotov-Hopfield"]
    # the benchmark's 3 read-outs, then each committed protocol's top layer
    assert [r["measured"] for r in kh] == [0.97, 0.971, None, 0.981, 0.984]
    assert "notebook rate, 200 epochs (p 3, k 7, lr 0.02, epochs 200)" in kh[3]["our_setup"]
    assert "longer, 1000 epochs (p 3, k 7, lr 0.04, epochs 1000)" in kh[4]["our_setup"]
    assert kh[-1]["published"] == 0.9854
    assert any(r["published"] is None and "no MNIST figure" in r["their_setup"] for r in rows)
    missing = B.reproduction(summary, tmp_path / "nowhere")
    assert "not found" in missing[-1]["note"]
