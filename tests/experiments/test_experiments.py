"""Experiment framework: config overrides, verdicts, atomic/resumable runs, CLI, report."""

import dataclasses
import json
import math
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from implicit_em.claims import CLAIMS
from implicit_em.cli import main
from implicit_em.experiments import (
    ConfigError,
    Experiment,
    RunError,
    Verdict,
    build_config,
    get_experiments,
    grade_below,
    identities,
    run_experiments,
)
from implicit_em.experiments.config import check_overrides, parse_overrides
from implicit_em.report import build_report
from implicit_em.report.html import fmt


@dataclass
class ToyConfig:
    seed: int = 0
    n: int = 10
    rate: float = 0.5
    flag: bool = False
    name: str = "a"
    sizes: tuple[int, ...] = (1, 2)
    limit: int | None = None


CALLS = []


def toy_run(cfg, out_dir):
    CALLS.append(cfg)
    if cfg.name == "boom":
        raise RuntimeError("exploded on purpose")
    value = cfg.n * cfg.rate
    return {
        "metrics": {"value": value},
        "tables": {"t": [{"n": cfg.n, "value": value}]},
        "verdicts": [Verdict("C1", grade_below(value, 100.0), value, "value < 100", "toy")],
    }


TOY = Experiment("toy", "A toy", ("C1",), ToyConfig, toy_run, quick={"n": 2})
BOOM = Experiment("boom", "Fails", ("C2",), ToyConfig, toy_run, quick={"name": "boom"})


def test_build_config_types_quick_seed_and_overrides():
    ov = parse_overrides(
        ["n=7", "rate=0.25", "flag=yes", "name=b", "sizes=3,4,5", "toy.limit=none"]
    )
    cfg = build_config(TOY, quick=True, seed=9, overrides=ov)
    assert (cfg.n, cfg.rate, cfg.flag, cfg.name, cfg.sizes, cfg.limit, cfg.seed) == (
        7,
        0.25,
        True,
        "b",
        (3, 4, 5),
        None,
        9,
    )
    assert build_config(TOY, quick=True).n == 2
    assert build_config(TOY, overrides=parse_overrides(["limit=4"])).limit == 4


@pytest.mark.parametrize(
    ("item", "match"),
    [
        ("n=abc", "expected int"),
        ("flag=maybe", "expected a bool"),
        ("rate=x", "expected float"),
        ("sizes=1,x", "expected int"),
        ("nope", "key=value"),
    ],
)
def test_bad_override_values(item, match):
    with pytest.raises(ConfigError, match=match):
        build_config(TOY, overrides=parse_overrides([item]))


def test_unknown_keys_list_valid_ones():
    with pytest.raises(ConfigError, match="valid keys: flag, limit, n, name, rate, seed, sizes"):
        check_overrides([TOY], parse_overrides(["bogus=1"]))
    with pytest.raises(ConfigError, match="not among the selected"):
        check_overrides([TOY], parse_overrides(["other.n=1"]))
    with pytest.raises(ConfigError, match="unknown key 'bogus' for experiment 'toy'"):
        build_config(TOY, overrides=parse_overrides(["toy.bogus=1"]))


def test_verdict_validation_and_grading():
    with pytest.raises(ValueError, match="unknown claim"):
        Verdict("C99", "confirmed", 1.0, "", "")
    with pytest.raises(ValueError, match="verdict must be"):
        Verdict("C1", "yes", 1.0, "", "")
    assert grade_below(1e-13, 1e-12, 1e-6) == "confirmed"
    assert grade_below(1e-8, 1e-12, 1e-6) == "partly"
    assert grade_below(1e-3, 1e-12, 1e-6) == "refuted"
    assert grade_below(float("nan"), 1e-12) == "open"


def test_run_writes_atomically_resumes_and_refuses_other_configs(tmp_path):
    CALLS.clear()
    status = run_experiments([TOY], tmp_path, quick=True, argv=["t"], log=lambda *_: None)
    assert status == {"toy": "done"}
    res = json.loads((tmp_path / "toy" / "results.json").read_text())
    assert res["config"]["n"] == 2 and res["seed"] == 0 and res["quick"] is True
    assert res["verdicts"][0]["verdict"] == "confirmed" and res["wall_s"] >= 0
    assert res["schema"] == 1 and res["seeds"] == [0, 1]  # quick: two seeds
    assert res["verdicts"][0]["seeds_agree"] == 2 and res["verdicts"][0]["seeds_total"] == 2
    assert [c.seed for c in CALLS] == [0, 1]
    csv = (tmp_path / "toy" / "t.csv").read_text().splitlines()
    assert csv == ["seed,n,value", "0,2,1.0", "1,2,1.0"]
    assert not list(tmp_path.glob(".*partial"))
    meta = json.loads((tmp_path / "run.json").read_text())
    assert meta["experiments"] == ["toy"] and "finished" in meta and "torch" in meta["env"]
    # started again: complete experiments are skipped, not recomputed
    status = run_experiments([TOY], tmp_path, quick=True, log=lambda *_: None)
    assert status == {"toy": "skipped"} and len(CALLS) == 2
    with pytest.raises(RunError, match="different config"):
        run_experiments([TOY], tmp_path, quick=False, log=lambda *_: None)
    status = run_experiments([TOY], tmp_path, quick=False, force=True, log=lambda *_: None)
    assert status == {"toy": "done"} and len(CALLS) == 2 + 5  # full: five seeds
    assert run_experiments([TOY], tmp_path / "one", seed=7, log=lambda *_: None) == {"toy": "done"}
    assert CALLS[-1].seed == 7 and len(CALLS) == 8  # --seed: one seed, for debugging


def test_seeds_in_parallel_workers_give_the_numbers_of_a_serial_run(tmp_path):
    from implicit_em.experiments import get_experiments

    (exp,) = get_experiments(["collapse"])
    overrides = parse_overrides(["collapse.epochs=1", "collapse.units=6"])
    logs = []
    for jobs in (1, 2):
        status = run_experiments(
            [exp], tmp_path / f"j{jobs}", quick=True, overrides=overrides, n_seeds=2,
            jobs=jobs, log=logs.append,
        )  # fmt: skip
        assert status == {"collapse": "done"}
    serial, parallel = (
        json.loads((tmp_path / f"j{j}" / "collapse" / "results.json").read_text()) for j in (1, 2)
    )
    assert parallel["per_seed"] == serial["per_seed"]  # every number, seed by seed
    assert parallel["tables"] == serial["tables"]
    assert (tmp_path / "j2" / "collapse" / "seed-1").is_dir()
    assert json.loads((tmp_path / "j2" / "run.json").read_text())["jobs"] == 2
    assert sum("seed 1 done" in line for line in logs) == 2


def test_a_seed_failing_in_a_worker_fails_its_experiment(tmp_path):
    from implicit_em.experiments import get_experiments

    (exp,) = get_experiments(["infomax"])  # too few permutations: run() refuses
    bad = parse_overrides(["infomax.permutations=10", "infomax.alpha=0.01"])
    status = run_experiments(
        [exp], tmp_path, quick=True, overrides=bad, n_seeds=2, jobs=2, log=lambda *_: None
    )
    assert status["infomax"].startswith("failed: ValueError: 10 permutations cannot reach")
    assert not (tmp_path / "infomax").exists() and not list(tmp_path.glob(".*partial"))
    with pytest.raises(ValueError, match="jobs must be an integer >= 1"):
        run_experiments([exp], tmp_path, jobs=0)


def test_a_failure_keeps_other_results_and_an_interrupted_run_restarts_clean(tmp_path):
    (tmp_path / ".toy.partial").mkdir(parents=True)  # left by a killed run
    (tmp_path / ".toy.partial" / "junk.png").write_text("x")
    status = run_experiments([BOOM, TOY], tmp_path, quick=True, log=lambda *_: None)
    assert status["toy"] == "done" and status["boom"].startswith("failed: RuntimeError")
    assert not (tmp_path / "boom").exists() and not (tmp_path / ".boom.partial").exists()
    assert not (tmp_path / "toy" / "junk.png").exists()
    meta = json.loads((tmp_path / "run.json").read_text())
    assert "exploded on purpose" in meta["failures"]["boom"]
    html = build_report(tmp_path).read_text()
    assert "exploded on purpose" in html and 'id="exp-toy"' in html


_HOLD_LOCK = """
import sys, time
from implicit_em.experiments.runner import RunLock
with RunLock(sys.argv[1]):
    print("locked", flush=True)
    time.sleep(60)
"""


def test_a_live_run_locks_its_directory_and_a_dead_one_does_not(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD_LOCK, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(RunError, match=f"process {holder.pid}"):
            run_experiments([TOY], tmp_path, quick=True, log=lambda *_: None)
        assert not (tmp_path / "toy").exists()
    finally:
        holder.kill()
        holder.wait()
    assert (tmp_path / ".lock").exists()  # killed: the file stays, but the lock died with it
    assert run_experiments([TOY], tmp_path, quick=True, log=lambda *_: None) == {"toy": "done"}
    assert not (tmp_path / ".lock").exists()
    (tmp_path / ".lock").write_text("")  # an empty lock file (the old race) is no lock
    assert run_experiments([TOY], tmp_path, quick=True, log=lambda *_: None) == {"toy": "skipped"}


def _contend(run_dir, barrier, holders, peak, rounds):
    import time

    from implicit_em.experiments.runner import RunLock

    for _ in range(rounds):
        barrier.wait()
        try:
            with RunLock(run_dir):
                with holders.get_lock():
                    holders.value += 1
                    peak.value = max(peak.value, holders.value)
                time.sleep(0.02)
                with holders.get_lock():
                    holders.value -= 1
        except RunError:
            pass
        barrier.wait()


def test_the_run_lock_admits_one_of_several_processes_started_together(tmp_path):
    import multiprocessing as mp

    ctx = mp.get_context("fork")
    n, rounds = 4, 30
    barrier, holders, peak = ctx.Barrier(n), ctx.Value("i", 0), ctx.Value("i", 0)
    procs = [
        ctx.Process(target=_contend, args=(tmp_path, barrier, holders, peak, rounds))
        for _ in range(n)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert all(p.exitcode == 0 for p in procs)
    assert peak.value == 1  # never two holders at once (the O_EXCL + pid-file lock: up to 3)


def test_report_lists_every_claim_and_formats_numbers(tmp_path):
    run_experiments([TOY], tmp_path, quick=True, log=lambda *_: None)
    html = build_report(tmp_path).read_text()
    for cid in ("C1", "C9", "C17"):
        assert f"<td>{cid}</td>" in html
    assert html.count("not measured") == len(CLAIMS) - 1  # every claim but C1
    assert fmt(1.1102e-16) == "1.11e-16" and fmt(0.98312) == "0.9831" and fmt(3) == "3"
    with pytest.raises(FileNotFoundError, match="not a run directory"):
        build_report(tmp_path / "toy")


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
        return {x.claim: x.verdict for x in identities.summarise(rows(errors), cfg)["verdicts"]}

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


def test_registry_selection():
    assert [e.name for e in get_experiments([])] == [e.name for e in get_experiments(["all"])]
    with pytest.raises(ValueError, match="available"):
        get_experiments(["nope"])


def test_cli_end_to_end_identities(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["run", "identities", "--quick", "--out", str(out), "--set", "trials=3"]) == 0
    assert f"report: {out / 'report.html'}" in capsys.readouterr().out
    res = json.loads((out / "identities" / "results.json").read_text())
    assert res["config"]["trials"] == 3
    verdicts = {v["claim"]: v for v in res["verdicts"]}
    assert set(verdicts) == {"C1", "C2", "C3", "C4"}
    for v in verdicts.values():
        assert v["verdict"] in ("confirmed", "refuted", "partly", "open")
        assert isinstance(v["value"], float) and v["threshold"] and v["evidence"]
    assert verdicts["C1"]["value"] < 1e-12  # measured, float64
    html = (out / "report.html").read_text()
    assert "data:image/png;base64," in html and "error_vs_scale.png" in html
    assert (out / "identities" / "error_vs_scale.png").stat().st_size > 10_000
    # second invocation resumes: the experiment is skipped
    assert main(["run", "identities", "--quick", "--out", str(out), "--set", "trials=3"]) == 0
    assert "skipped" in capsys.readouterr().out
    # bad arguments: exit 2 with a one-line reason
    assert main(["run", "identities", "--out", str(out), "--set", "trails=3"]) == 2
    assert "valid keys" in capsys.readouterr().err
    assert main(["run", "nope", "--out", str(out)]) == 2


def test_console_script_lists_experiments():
    exe = Path(sys.executable).parent / "iem"
    cmd = [str(exe), "list"] if exe.exists() else [sys.executable, "-m", "implicit_em", "list"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=os.environ, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "identities" in proc.stdout and "C1:" in proc.stdout


def test_em_structure_experiment_runs_and_decides_c17(tmp_path):
    from implicit_em.experiments import em_structure as exp

    res = exp.run(exp.Config(epochs=1, hidden=16), tmp_path)
    models = {r["model"]: r for r in res["tables"]["models"]}
    assert set(models) == {"relu_mlp", "tanh_mlp", "attention", "competitive"}
    assert models["relu_mlp"]["internal_em_behaviour_ops"] == 0
    assert models["tanh_mlp"]["internal_em_behaviour_ops"] == 2  # tanh: two hypotheses
    assert models["competitive"]["internal_em_behaviour_ops"] == 2
    (v,) = res["verdicts"]
    assert v.claim == "C17" and v.verdict == "confirmed" and res["metrics"]["controls_ok"]


def _c17_row(model, op, kind, em_behaviour):
    return {"model": model, "name": op, "op": op, "kind": kind, "em_behaviour": em_behaviour}


def test_decide_c17_gives_each_outcome():
    from implicit_em.diagnostics.em_structure import EM, GATE, NORM, OTHER
    from implicit_em.experiments.em_structure import decide_c17

    controls = [
        _c17_row("controls", "HiddenSoftmax", OTHER, True),
        _c17_row("controls", "Lookalike", OTHER, False),
    ]
    good = [
        _c17_row("m", "ReLU", GATE, False),
        _c17_row("m", "Tanh", GATE, True),
        _c17_row("m", "SoLU", EM, True),
        _c17_row("m", "LayerNorm", NORM, False),
        _c17_row("m", "Linear", "linear", None),  # not measured: not judged
    ]
    assert decide_c17(good + controls)[0] == "confirmed"
    # EM behaviour at an op without a log-sum-exp: "only where LSE exists" fails
    verdict, found = decide_c17([*good, _c17_row("m", "GELU", GATE, True), *controls])
    assert verdict == "refuted" and found["em_without_lse"] == ["m:GELU"]
    # an LSE op whose Jacobian lacks the form
    verdict, found = decide_c17([*good, _c17_row("m", "Softmax", EM, False), *controls])
    assert verdict == "partly" and found["lse_without_em"] == ["m:Softmax"]
    # a criterion that misses the hidden softmax (or flags the lookalike) decides nothing
    blind = [_c17_row("controls", "HiddenSoftmax", OTHER, False), controls[1]]
    assert decide_c17(good + blind)[0] == "open"
    assert decide_c17(good)[0] == "open"  # no controls measured


def test_activations_experiment_verdicts_follow_measurements(tmp_path):
    from implicit_em.experiments import activations as exp

    cfg = exp.Config(n_points=401, temperatures=(1.0, 0.1, 0.01), gaussian_grid=2)
    res = exp.run(cfg, tmp_path)
    v = {x.claim: x.verdict for x in res["verdicts"]}
    assert v == {
        "C5": "confirmed",
        "C6": "refuted",
        "C7": "refuted",
        "C8": "confirmed",
        "C23": "partly",
    }
    assert (tmp_path / "curves.json").exists()
    rows = [dict(r) for r in res["tables"]["properties"]]
    # if the Student-t activations were monotone and saturated at +-1, C7 would be confirmed
    for r in rows:
        if r["model"] in ("student_t", "cauchy"):
            r.update(monotone="increasing", limit_pos=1.0, redescending=False)
    again = exp.summarise(rows, res["tables"]["temperature"], 1e-15, cfg)
    assert {x.claim: x.verdict for x in again["verdicts"]}["C7"] == "confirmed"
    worse = exp.summarise(res["tables"]["properties"], res["tables"]["temperature"], 1e-3, cfg)
    assert {x.claim: x.verdict for x in worse["verdicts"]}["C5"] == "refuted"


def test_dead_units_experiment_small_run(tmp_path):
    from implicit_em.experiments import dead_units as exp

    cfg = exp.Config(
        datasets=("digits",),
        activations=("relu", "tanh"),
        optimizers=("adam",),
        hidden=16,
        epochs=1,
        recovery_epochs=1,
        monitor_every=5,
    )
    res = exp.run(cfg, tmp_path)
    runs = {r["activation"]: r for r in res["tables"]["runs"]}
    assert runs["relu"]["grad_to_shifted_vs_others"] == 0.0
    assert runs["relu"]["shifted_inactive_after_shift"] == 1.0
    assert runs["relu"]["shifted_zero_derivative_float64"] == 1.0
    assert runs["tanh"]["grad_to_shifted_vs_others"] > 0.0
    assert runs["tanh"]["shifted_zero_derivative_float64"] == 0.0
    zero = {g["activation"]: g["zero"] for g in res["tables"]["zero_derivative_grid"]}
    assert zero == {"relu": "analytic", "tanh": "underflow"}
    (v,) = res["verdicts"]
    assert v.claim == "C9" and v.verdict in ("partly", "refuted")
    assert set(res["metrics"]["parts"]) == {"die", "relu_stuck", "soft_recover"}


def _c9_row(act, dead=0.0, zero64=0.0, recovered=1.0):
    return {
        "activation": act,
        "inactive_layer1_end_of_training": dead,
        "shifted_zero_derivative_float64": zero64,
        "recovered_fraction": recovered,
    }


def test_zero_derivative_grid_tells_underflow_from_analytic_zero():
    from implicit_em.experiments import dead_units as exp

    grid = {g["activation"]: g for g in exp.zero_derivative_grid(exp.Config().activations)}
    assert grid["relu"]["zero"] == grid["laplace"]["zero"] == "analytic"
    assert grid["tanh"] == {
        "activation": "tanh",
        "first_zero_float32": -10.0,
        "first_zero_float64": -20.0,
        "zero": "underflow",
    }
    assert grid["gate_silu"]["first_zero_float32"] == -90.0  # sigmoid(-90) ~ 8e-40 subnormal
    assert grid["solu"]["zero"] == grid["grouped_solu"]["zero"] == "underflow"


def test_decide_c9_gives_each_outcome():
    from implicit_em.experiments.dead_units import decide_c9

    kinds = {"relu": "analytic", "tanh": "underflow", "laplace": "analytic"}
    relu_dead = _c9_row("relu", dead=0.1, zero64=1.0, recovered=0.0)
    tanh_ok = _c9_row("tanh")
    # every part holds: ReLU alone dies, stays dead when forced off, tanh recovers
    verdict, parts = decide_c9([relu_dead, tanh_ok], kinds)
    assert verdict == "confirmed" and set(parts.values()) == {"confirmed"}
    # a soft unit that also dies in ordinary training (SoLU starving) makes "die" partly
    _, parts = decide_c9([relu_dead, _c9_row("tanh", dead=0.3)], kinds)
    assert parts["die"] == "partly"
    # ReLU never dies in ordinary training: that part is refuted, the claim partly
    verdict, parts = decide_c9([_c9_row("relu", zero64=1.0, recovered=0.0), tanh_ok], kinds)
    assert parts["die"] == "refuted" and verdict == "partly"
    # a forced-off ReLU that comes back refutes "cannot recover"
    _, parts = decide_c9([_c9_row("relu", dead=0.1, zero64=1.0, recovered=0.2), tanh_ok], kinds)
    assert parts["relu_stuck"] == "refuted"
    # an analytic zero among the soft ones (the Laplace plateau) makes the soft part partly
    _, parts = decide_c9([relu_dead, tanh_ok, _c9_row("laplace", zero64=1.0)], kinds)
    assert parts["soft_recover"] == "partly"
    # no soft unit recovers: refuted, and every part refuted refutes the claim
    bad = [_c9_row("relu", zero64=0.5, recovered=0.0), _c9_row("tanh", recovered=0.1)]
    verdict, parts = decide_c9(bad, kinds)
    assert parts["soft_recover"] == "refuted" and verdict == "refuted"
    assert decide_c9([tanh_ok], kinds) == ("open", {})


def test_mixture_experiment_small_run_and_verdict_rule(tmp_path):
    from implicit_em.experiments import mixture as exp

    cfg = exp.Config(
        identity_trials=3, n_2d=200, n_samples=600, n_features=4, n_components=3, iterations=4
    )
    res = exp.run(cfg, tmp_path)
    solvers = {r["solver"]: r for r in res["tables"]["solvers"]}
    # our EM and scikit-learn's take identical steps from the same initialisation
    assert solvers["em"]["final_heldout_loglik"] == pytest.approx(
        solvers["sklearn"]["final_heldout_loglik"], rel=1e-10
    )
    v, c24 = res["verdicts"]
    assert v.claim == "C4" and v.value < 1e-12 and v.verdict in ("confirmed", "partly")
    assert c24.claim == "C24" and len(res["tables"]["hard_vs_soft"]) == 4
    traces = [dict(r) for r in res["tables"]["traces"]]
    for r in traces:  # a gradient fit that ends on EM's value confirms the claim
        if r["solver"] == "gradient":
            r["heldout_loglik"] = solvers["em"]["final_heldout_loglik"]
    assert exp.summarise(traces, 1e-15, cfg)["verdicts"][0].verdict == "confirmed"
    assert exp.summarise(traces, 1e-3, cfg)["verdicts"][0].verdict == "refuted"
    assert res["metrics"]["preconditioned_max_relative_gap"] < 1e-9  # retraces EM
    for r in traces:  # preconditioned steps that leave EM's path: the full form fails
        if r["solver"] == "preconditioned":
            r["heldout_loglik"] *= 1.01
    assert exp.summarise(traces, 1e-15, cfg)["verdicts"][0].verdict == "partly"


def test_decide_identity_gives_each_outcome():
    from implicit_em.experiments.identities import decide_identity

    assert decide_identity(1e-15, 1.0, 1e-12, 1e-6) == "confirmed"
    assert decide_identity(1e-8, 1.0, 1e-12, 1e-6) == "partly"
    assert decide_identity(1e-3, 1.0, 1e-12, 1e-6) == "refuted"
    assert decide_identity(1e-15, 1e-12, 1e-12, 1e-6) == "open"  # the control went unseen
    assert decide_identity(float("nan"), 1.0, 1e-12, 1e-6) == "open"


def test_decide_c7_and_c8_give_each_outcome():
    from implicit_em.experiments.activations import decide_c7, decide_c8

    saturating = {"odd": True, "monotone": "increasing", "limit_pos": 1.0, "redescending": False}
    redescending = {"odd": True, "monotone": "no", "limit_pos": 1e-3, "redescending": True}
    assert decide_c7([saturating, saturating]) == "confirmed"
    assert decide_c7([redescending, redescending]) == "refuted"
    assert decide_c7([saturating, redescending]) == "partly"
    ts = [1.0, 0.1, 0.01]
    assert decide_c8(ts, [0.278 * t for t in ts]) == "confirmed"  # ~ T, below 1e-2
    assert decide_c8(ts, [0.5, 0.4, 0.3]) == "partly"  # decreasing, too slowly
    assert decide_c8(ts, [0.3, 0.4, 0.5]) == "refuted"


def test_decide_c4_gives_each_outcome():
    from implicit_em.experiments.mixture import decide_c4

    # identity exact, EM path retraced, same fixed point, as fast as EM
    assert decide_c4(1e-15, 1e-12, 1e-5, 3, 5, 1e-3) == (
        "confirmed",
        {"mechanism": "confirmed", "speed": "confirmed"},
    )
    # same mechanism, but plain gradient ascent needs many more passes: partly
    assert decide_c4(1e-15, 1e-12, 1e-5, 3, 40, 1e-3)[1]["speed"] == "partly"
    assert decide_c4(1e-15, 1e-12, 1e-5, 3, 40, 1e-3)[0] == "partly"
    # never reaching EM's level within the budget: speed refuted, mechanism partly
    verdict, parts = decide_c4(1e-15, 1e-12, 0.1, 3, None, 1e-3)
    assert parts == {"mechanism": "partly", "speed": "refuted"} and verdict == "partly"
    # the step identity fails: refuted whatever the speed
    assert decide_c4(1e-3, 1e-12, 1e-5, 3, 3, 1e-3)[0] == "refuted"
    # preconditioned steps that leave EM's path make the mechanism partly
    assert decide_c4(1e-15, 1e-4, 1e-5, 3, 3, 1e-3)[1]["mechanism"] == "partly"


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
    for r in rows:  # second-order objectives as good as FastICA: the proxy suffices
        if r["method"] in ("gaussian_infomax", "decorrelation+hinge"):
            r["amari"] = 0.01
        if r["method"].startswith("FastICA"):
            r["amari"] = 0.01
    assert ica.summarise(rows, cfg)["verdicts"][0].verdict == "confirmed"
    for r in rows:  # the proxy fails; HSIC separates: partly; HSIC fails too: refuted
        if r["method"] in ("gaussian_infomax", "decorrelation+hinge"):
            r["amari"] = 0.3
        if r["method"] == "pairwise_hsic":
            r["amari"] = 0.015
    assert ica.summarise(rows, cfg)["verdicts"][0].verdict == "partly"
    for r in rows:
        if r["method"] == "pairwise_hsic":
            r["amari"] = 0.3
    assert ica.summarise(rows, cfg)["verdicts"][0].verdict == "refuted"


def test_mechanism_experiment_measures_the_gradient_path(tmp_path):
    from implicit_em.experiments import mechanism as exp

    res = exp.run(exp.Config(epochs=1, units=6), tmp_path)
    by = {r["variant"]: r for r in res["tables"]["variants"]}
    assert set(by) == set(exp.VARIANTS)
    # covariance of z ignores b: a bias shift that changes r leaves dL/dW unchanged
    assert by["infomax(z)"]["r_change_tv"] > 0.1
    assert by["infomax(z)"]["bias_sensitivity"] < 1e-4
    assert by["lse(z)"]["r2_grad_on_r"] == pytest.approx(1.0, abs=1e-9)  # dL/dz = r / n
    assert by["lse(z)"]["bias_sensitivity"] > 1e-2
    assert res["verdicts"][0].claim == "C18"


def test_single_layer_2d_small_run_figure_and_region_bound(tmp_path):
    from implicit_em.experiments import single_layer_2d as exp

    assert [exp.max_regions(k) for k in (1, 2, 3, 4, 8)] == [2, 4, 7, 11, 37]
    cfg = exp.Config(datasets=("polytope",), widths=(4,), n_samples=200, epochs=1, grid=48)
    res = exp.run(cfg, tmp_path)
    fits = res["tables"]["fits"]
    assert {r["variant"] for r in fits} == set(exp.AUTOENCODERS) | set(exp.IEM_CONTROLS)
    for r in fits:  # K = 4 lines never cut more than 11 regions
        assert 1 <= r["regions_grid"] <= r["max_regions"] == 11
        assert 0 <= r["edge_angle_deg"] <= 90
    assert {v.claim for v in res["verdicts"]} == {"C10", "C15", "C19"}
    figs = exp.plot({"config": dataclasses.asdict(cfg), **res}, tmp_path)
    assert (tmp_path / figs[0]["file"]).exists()


def test_hyperplane_stats_find_the_same_cut_twice():
    import torch

    from implicit_em.experiments.single_layer_2d import hyperplane_stats

    w = torch.tensor([[1.0, 0.0], [-2.0, 0.0], [0.0, 1.0]])
    b = torch.tensor([0.5, -1.0, 0.0])  # units 0 and 1: the line x = -0.5, flipped
    stats = hyperplane_stats(w, b)
    assert stats["duplicate_units"] == pytest.approx(2 / 3)
    assert stats["mean_abs_cos"] == pytest.approx(1 / 3)
    assert hyperplane_stats(w, torch.tensor([0.5, 1.0, 0.0]))["duplicate_units"] == 0


def _fit_rows(cells, values):
    """Rows for decide_c10/c15/c19: ``values[(kind, variant)] = (mean_abs_cos,
    duplicate_units, regions_grid)`` in every cell."""
    rows = []
    for ds, k in cells:
        for (kind, variant), (cos, dup, regions) in values.items():
            rows.append({"dataset": ds, "K": k, "kind": kind, "variant": variant,
                         "mean_abs_cos": cos, "duplicate_units": dup,
                         "regions_grid": regions, "max_regions": 11})  # fmt: skip
    return rows


def test_decide_c10_c15_c19_give_each_outcome():
    from implicit_em.experiments.single_layer_2d import decide_c10, decide_c15, decide_c19

    cells = [("a", 4), ("b", 4)]
    base = {("ae", "relu"): (0.6, 0.5, 10), ("ae", "softmax"): (0.2, 0.0, 10),
            ("iem", "none"): (0, 0, 8), ("iem", "infomax"): (0, 0, 11)}  # fmt: skip
    rows = _fit_rows(cells, base)
    assert decide_c10(rows, 0.75)[0] == "confirmed"
    assert decide_c15(rows, 0.75)[0] == "confirmed"
    assert decide_c19(rows, 0.75)[0] == "confirmed"
    flipped = {**base, ("ae", "softmax"): (0.9, 0.0, 4), ("iem", "none"): (0, 0, 11),
               ("iem", "infomax"): (0, 0, 5)}  # fmt: skip
    rows = _fit_rows(cells, flipped)
    assert decide_c10(rows, 0.75)[0] == "refuted"
    assert decide_c15(rows, 0.75)[0] == "refuted"
    assert decide_c19(rows, 0.75)[0] == "refuted"
    mixed = _fit_rows(cells[:1], base) + _fit_rows(cells[1:], flipped)
    assert decide_c10(mixed, 0.75)[0] == decide_c15(mixed, 0.75)[0] == "partly"
    assert decide_c19(mixed, 0.75)[0] == "partly"
    no_duplicates = {**base, ("ae", "relu"): (0.6, 0.0, 10)}
    assert decide_c10(_fit_rows(cells, no_duplicates), 0.75)[0] == "partly"


def test_decide_c18_gives_each_outcome():
    from implicit_em.experiments.mechanism import decide_c18

    def rows(seed_sens, seed_r2, control=(0.5, 1.0)):
        return [
            {"variant": "infomax(z)", "bias_sensitivity": seed_sens, "r2_grad_on_r": seed_r2},
            {"variant": "lse(z)", "bias_sensitivity": control[0], "r2_grad_on_r": control[1]},
        ]

    assert decide_c18(rows(0.3, 0.9), 1e-3, 0.5) == "confirmed"
    assert decide_c18(rows(0.3, 0.1), 1e-3, 0.5) == "partly"
    assert decide_c18(rows(1e-7, 0.1), 1e-3, 0.5) == "refuted"
    assert decide_c18(rows(0.3, 0.9, control=(1e-7, 1.0)), 1e-3, 0.5) == "open"


def test_decide_c14_separation_counts_every_number_of_sources():
    from implicit_em.experiments.ica import decide_c14_separation

    def row(second, hsic, fast=0.01):
        return {"fastica": fast, "hsic_amari": hsic, "second_order_best_amari": second}

    assert decide_c14_separation([row(0.015, 0.3), row(0.02, 0.3)], 2.0) == "confirmed"
    assert decide_c14_separation([row(0.3, 0.015), row(0.3, 0.04)], 2.0) == "partly"
    # HSIC separates 4 sources but not 8: the 8-source failure counts
    assert decide_c14_separation([row(0.3, 0.015), row(0.3, 0.2)], 2.0) == "refuted"


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
    return rows


def test_decide_c13_gives_each_outcome():
    from implicit_em.experiments.infomax import c13_cells, decide_c13

    def verdict(rows, d=64):
        return decide_c13(c13_cells(rows, {"digits": d, "mnist": 784}, 0.1))

    assert verdict(_feature_rows(infomax=(0.92, 0.05, 0.1))) == "confirmed"  # beats PCA
    assert verdict(_feature_rows(infomax=(0.90, 0.05, 0.1))) == "partly"  # ties PCA
    # more non-linear dependence than PCA in one cell of two: partly; in every cell: refuted
    tangled = _feature_rows(infomax=(0.92, 0.05, 0.5))
    assert verdict(tangled + _feature_rows(ds="mnist", infomax=(0.92, 0.05, 0.1))) == "partly"
    assert verdict(tangled) == "refuted"
    assert verdict(_feature_rows(infomax=(0.85, 0.05, 0.1))) == "refuted"  # 5 points down
    assert verdict(_feature_rows(infomax=(0.95, 0.4, 0.1))) == "refuted"  # correlated
    # K > D: unreachable, neither passed nor failed; only such cells: open
    wide = _feature_rows(k=128, infomax=(0.95, 0.5, 0.9))
    cells = c13_cells(wide, {"digits": 64}, 0.1)
    assert cells[0]["unreachable"] and decide_c13(cells) == "open"
    both = _feature_rows(infomax=(0.92, 0.05, 0.1)) + wide
    assert verdict(both) == "confirmed"


def test_decide_c14_detection_in_the_seeds_words():
    from implicit_em.experiments.infomax import decide_c14_detection

    cases = ("linear", "quadratic", "absolute", "circle", "heteroscedastic")

    def pairs(proxy, hsic, null_hsic=0.5):
        out = [{"case": "independent", "gaussian_p": 0.5, "hsic_p": null_hsic}]
        out += [
            {"case": c, "gaussian_p": 0.0 if c in proxy else 0.5,
             "hsic_p": 0.0 if c in hsic else 0.5}
            for c in cases
        ]  # fmt: skip
        return out

    assert decide_c14_detection(pairs(cases[:3], cases), 0.05)[0] == "confirmed"
    verdict, found = decide_c14_detection(pairs(cases[:1], cases), 0.05)
    assert verdict == "partly" and found["hsic_more_thorough"]
    assert not found["proxy_catches_most"]
    # HSIC flags the independent pair: not thorough, just trigger-happy
    assert decide_c14_detection(pairs(cases[:1], cases, null_hsic=0.0), 0.05)[0] == "refuted"
    # HSIC misses one the proxy catches: not more thorough
    assert decide_c14_detection(pairs(cases[:1], cases[1:]), 0.05)[0] == "refuted"


def test_collapse_experiment_small_run_and_pressure_tests(tmp_path):
    from implicit_em.experiments import collapse as exp

    cfg = exp.Config(epochs=2, monitor_every=5)
    res = exp.run(cfg, tmp_path)
    rows = exp._by(res["tables"]["variants"])
    assert {v for v, _ in rows} == set(exp.VARIANTS)
    assert {p for _, p in rows} == set(exp.PRESSURES)
    assert rows[("lse", "none")]["weight_norm_growth"] > 1.0  # the unbounded LSE loss
    # covariance objectives ignore the bias: a unit made dominant by its bias stays so
    assert rows[("infomax_gaussian", "dominant")]["unit0_back"] is False
    assert {v.claim for v in res["verdicts"]} == {"C11", "C12"}
    # C12 judges InfoMax alone: a variant with an added regulariser does not count
    assert rows[("decorrelation+variance_hinge", "none")]["family"] == "infomax+regulariser"
    assert res["metrics"]["logdet_drop_weights_x10"] == pytest.approx(
        2 * cfg.units * math.log(10), rel=1e-6
    )


def test_apply_pressure_collapses_unit_0():
    import torch

    from implicit_em.experiments.collapse import apply_pressure

    torch.manual_seed(0)
    x = torch.randn(50, 4)
    layer = torch.nn.Linear(4, 3)
    apply_pressure(layer, x, "dominant")
    assert (layer(x).argmin(1) == 0).all()  # the smallest distance everywhere: it wins
    w = layer.weight[1].clone()
    apply_pressure(layer, x, "null")
    assert layer.weight[0].abs().max() < 1e-2 and torch.equal(layer.weight[1], w)
    with pytest.raises(ValueError, match="unknown pressure"):
        apply_pressure(layer, x, "squeeze")


def _collapse_rows(**modes_of):
    """Rows for every variant x pressure: ``modes_of[variant] = (fresh modes, back)``."""
    from implicit_em.experiments.collapse import PRESSURES, VARIANTS

    rows = []
    for v, (family, _) in VARIANTS.items():
        fresh, back = modes_of.get(v, ((), True))
        for p in PRESSURES:
            rows.append(
                {
                    "variant": v,
                    "family": family,
                    "pressure": p,
                    "winner_take_all": p == "none" and "wta" in fresh,
                    "scale_blowup": p == "none" and "blowup" in fresh,
                    "starved_units": 2.0 if p == "none" and "starved" in fresh else 0.0,
                    "dead_units": 0.0,
                    "unit0_back": None if p == "none" else back,
                }
            )
    return rows


def test_decide_c11_and_c12_give_each_outcome():
    from implicit_em.experiments.collapse import decide_c11, decide_c12

    collapsing = {"lse": (("blowup",), False)}
    # LSE blows up, every volume control holds up: confirmed; every InfoMax holds up
    assert decide_c11(_collapse_rows(**collapsing)) == "confirmed"
    assert decide_c12(_collapse_rows(**collapsing)) == "confirmed"
    # no volume control holds up (one mode each): partly
    volume = ("lse+logdet(WW^T)", "lse+variance_hinge", "lse+balance_entropy")
    stuck = dict.fromkeys(volume, (("blowup",), True))
    assert decide_c11(_collapse_rows(**collapsing, **stuck)) == "partly"
    # LSE alone only starves some units: partly
    assert decide_c11(_collapse_rows(lse=(("starved",), True))) == "partly"
    # LSE alone shows no mode and recovers from both pressures: refuted
    assert decide_c11(_collapse_rows()) == "refuted"
    infomax = ("infomax_gaussian", "infomax_correlation", "infomax_log_variance")
    # one InfoMax objective fails a pressure test: partly; all fail: refuted
    assert decide_c12(_collapse_rows(infomax_gaussian=((), False))) == "partly"
    assert decide_c12(_collapse_rows(**dict.fromkeys(infomax, ((), False)))) == "refuted"
    # the regularised variant does not count for C12 either way
    assert decide_c12(_collapse_rows(**{"decorrelation+variance_hinge": (("wta",), False)})) == (
        "confirmed"
    )


def test_infomax_experiment_small_run_and_verdict_rules(tmp_path):
    from implicit_em.experiments import infomax as exp

    cfg = exp.Config(
        datasets=("digits",),
        widths=(8,),
        epochs=1,
        tc_pairs=4,
        tc_rows=300,
        pair_samples=300,
        permutations=49,
        alpha=0.05,
    )
    res = exp.run(cfg, tmp_path)
    methods = {r["method"] for r in res["tables"]["features"]}
    assert {"PCA", "FastICA", "sparse autoencoder", "gaussian_infomax"} <= methods
    pairs = {p["case"]: p for p in res["tables"]["dependence"]}
    assert pairs["circle"]["hsic_p"] < 0.05 < pairs["circle"]["gaussian_p"]  # corr misses it
    assert [c["K"] for c in res["tables"]["c13_cells"]] == [8]
    assert {v.claim for v in res["verdicts"]} == {"C13", "C14"}
    with pytest.raises(ValueError, match="permutations"):
        exp.run(exp.Config(permutations=10, alpha=0.01), tmp_path)


# ---------------------------------------------------------------- robustness (issue 10)


@pytest.mark.parametrize(
    ("item", "match"),
    [
        ("identities.trials=-5", r"identities\.trials: expected a value >= 1, got -5"),
        ("identities.trials=0", r"identities\.trials: expected a value >= 1, got 0"),
        ("identities.scales=", r"identities\.scales: expected at least one value"),
        ("identities.scales=1,-2", r"identities\.scales: expected a value > 0.0, got -2"),
        ("identities.max_rank=0", r"identities\.max_rank: expected a value >= 1"),
        ("identities.max_size=-1", r"identities\.max_size: expected a value >= 1"),
        ("identities.confirm_threshold=nan", r"confirm_threshold: expected a finite number"),
        ("identities.exclude_fraction=2", r"exclude_fraction: expected a value >= 0.0 and <="),
        ("identities.seed=99999999999999999999", r"identities\.seed: expected a value >= 0 and"),
        ("identities.seed=-1", r"identities\.seed: expected a value >= 0"),
        ("infomax.alpha=1", r"infomax\.alpha: expected a value > 0.0 and < 1.0"),
        ("collapse.blowup_factor=inf", r"collapse\.blowup_factor: expected a finite number"),
    ],
)
def test_config_values_outside_their_range_are_refused_before_anything_runs(tmp_path, item, match):
    exp = get_experiments([item.split(".")[0]])
    with pytest.raises(ConfigError, match=match):
        run_experiments(exp, tmp_path, quick=True, overrides=parse_overrides([item]))
    assert not any(tmp_path.iterdir())  # nothing ran, nothing was left behind
    assert main(["run", exp[0].name, "--out", str(tmp_path / "cli"), "--set", item]) == 2


def test_every_registered_config_passes_its_own_ranges_at_quick_and_full_sizes():
    from implicit_em.experiments.config import check_ranges

    for exp in get_experiments(["all"]):
        for quick in (False, True):
            check_ranges(build_config(exp, quick=quick), exp.name)  # raises if not


def test_bounded_declares_a_range():
    from implicit_em.experiments.config import bounded, check_ranges

    @dataclass
    class Cfg:
        seed: int = 0
        share: float = bounded(0.5, min=0.0, max=1.0)
        offset: float = bounded(-1.0, min=-5.0)

    check_ranges(Cfg(), "x")
    check_ranges(Cfg(share=0.0, offset=-5.0), "x")
    with pytest.raises(ConfigError, match=r"x\.share: expected a value >= 0.0 and <= 1.0"):
        check_ranges(Cfg(share=1.5), "x")
    with pytest.raises(TypeError, match="min/max/gt/lt"):
        bounded(1, above=0)


@pytest.mark.parametrize(
    "damage",
    [b"", b'{"experiment": "toy", "con', b"[1, 2]", b'{"experiment": 3}', "verdicts", "tables"],
)
def test_a_damaged_results_file_is_rerun_and_kept_and_the_report_skips_it(tmp_path, damage):
    run_experiments([TOY], tmp_path, quick=True, log=lambda *_: None)
    path = tmp_path / "toy" / "results.json"
    if isinstance(damage, bytes):
        path.write_bytes(damage)
    else:  # valid JSON, wrong types inside
        record = json.loads(path.read_text())
        record[damage] = {"verdicts": "oops"}[damage] if damage == "verdicts" else [1]
        path.write_text(json.dumps(record))
    bad = path.read_bytes()
    notes = []
    html = build_report(tmp_path, log=notes.append).read_text()
    assert "skipped" in html and str(path) in html and 'id="exp-toy"' not in html
    assert len(notes) == 1 and str(path) in notes[0] and "damaged" in notes[0]
    assert main(["report", str(tmp_path)]) == 0
    logs = []
    assert run_experiments([TOY], tmp_path, quick=True, log=logs.append) == {"toy": "done"}
    assert any("results.json.damaged" in line for line in logs)
    assert (tmp_path / "toy" / "results.json.damaged").read_bytes() == bad
    assert json.loads(path.read_text())["experiment"] == "toy"
    assert 'id="exp-toy"' in build_report(tmp_path).read_text()


def test_a_damaged_run_record_is_named(tmp_path, capsys):
    run_experiments([TOY], tmp_path, quick=True, log=lambda *_: None)
    (tmp_path / "run.json").write_text('{"started": ')
    assert main(["report", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert str(tmp_path / "run.json") in err and "damaged" in err
    logs = []
    assert run_experiments([TOY], tmp_path, quick=True, log=logs.append) == {"toy": "skipped"}
    assert (tmp_path / "run.json.damaged").exists() and any("run.json" in x for x in logs)
    assert 'id="exp-toy"' in build_report(tmp_path).read_text()


def test_cli_out_that_is_a_file_or_unwritable_is_one_line_and_exit_2(tmp_path, capsys):
    target = tmp_path / "a_file"
    target.write_text("x")
    assert main(["run", "identities", "--quick", "--out", str(target)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("iem: error:") and str(target) in err and len(err.splitlines()) == 1
    assert main(["run", "identities", "--quick", "--out", str(target / "run")]) == 2
    err = capsys.readouterr().err.strip()  # a path through a file: not a directory
    assert err.startswith("iem: error:") and len(err.splitlines()) == 1
    assert main(["report", str(tmp_path / "missing")]) == 2
    assert "not a run directory" in capsys.readouterr().err


def test_c23_rule_gives_each_outcome():
    from implicit_em.experiments.activations import decide_c23

    def row(lin=0.01, beyond=0.0, inside=1e-3, consistent=1e-16):
        return {
            "activation": "h", "threshold": 2.0, "closed_vs_numeric": consistent,
            "linear_deviation": lin, "max_grad_beyond": beyond, "min_grad_inside": inside,
            "plateau": 0.76,
        }  # fmt: skip

    tanh = row(lin=0.3, beyond=0.07, inside=0.07)
    assert decide_c23([row(), row()], tanh).verdict == "confirmed"
    assert decide_c23([row(lin=0.5), row()], tanh).verdict == "partly"  # saturates only
    assert decide_c23([row(beyond=0.1), row(beyond=0.1)], tanh).verdict == "partly"  # linear
    assert decide_c23([row(lin=0.5, beyond=0.1)], tanh).verdict == "refuted"
    assert decide_c23([row(consistent=1e-3)], tanh).verdict == "open"
    assert decide_c23([row()], row()).verdict == "open"  # the control passed: no test


def test_c24_rule_gives_each_outcome():
    from implicit_em.experiments.mixture import decide_c24

    def rows(hard_unc, hard_back, soft_unc, soft_back, held=(-3.0, -3.0)):
        out = []
        for s, empty in (("one_far", 1), ("two_on_one", 0)):
            for em, unc, back, ll in (("hard", hard_unc, hard_back, held[0]),
                                      ("soft", soft_unc, soft_back, held[1])):  # fmt: skip
                out.append({"scenario": s, "em": em, "uncovered_clusters": unc,
                            "empty_at_start": empty, "came_back": min(back, empty),
                            "heldout_loglik": ll})  # fmt: skip
        return out

    assert decide_c24(rows(1, 0, 0, 1)).verdict == "confirmed"
    assert decide_c24(rows(2, 0, 2, 1)).verdict == "partly"  # soft revives, still uncovered
    assert decide_c24(rows(2, 0, 2, 0, held=(-3.0, -2.9))).verdict == "partly"  # ends better
    assert decide_c24(rows(2, 0, 2, 0)).verdict == "refuted"  # soft stuck the same way
    assert decide_c24(rows(0, 1, 0, 1)).verdict == "refuted"  # hard never stuck


def test_hard_em_never_moves_an_empty_component_and_soft_em_does():
    import numpy as np

    from implicit_em.experiments.mixture import CENTRES, _scenario, classification_em

    rng = np.random.default_rng(0)
    X = np.vstack([c + 0.5 * rng.standard_normal((100, 2)) for c in CENTRES])
    start = _scenario("one_far", X, rng)
    hard = classification_em(X, *start, hard=True, iters=10)
    soft = classification_em(X, *start, hard=False, iters=10)
    assert np.array_equal(hard[0][2], start[0][2]) and hard[2][2] == 0.0
    assert np.linalg.norm(soft[0][2] - start[0][2]) > 10 and soft[2][2] > 0


def test_c6_rule_gives_each_outcome_and_tails_are_measured():
    import torch

    from implicit_em.experiments.activations import decide_c6, tail_approach

    soft = tail_approach(torch.nn.functional.softsign)
    tanh = tail_approach(torch.tanh)
    assert soft["flat_at"] is None and soft["tail_slope"] == pytest.approx(-1.0, abs=0.05)
    assert tanh["flat_at"] == 30.0  # 1 - tanh(30) is 0 in float64: not a 1/|z| approach
    flat = {"flat_at": 10.0, "tail_slope": None}
    power = {"flat_at": None, "tail_slope": -1.0}
    steep = {"flat_at": None, "tail_slope": -3.0}
    assert decide_c6([power, power], soft, tanh) == "confirmed"
    assert decide_c6([flat, flat], soft, tanh) == "refuted"
    assert decide_c6([flat, power], soft, tanh) == "partly"
    assert decide_c6([steep], soft, tanh) == "partly"
    assert decide_c6([power], tanh, tanh) == "open"  # the softsign control failed


def test_quick_runs_mark_undecidable_claims_indicative_and_show_the_last_full_run(tmp_path):
    import dataclasses

    toy = dataclasses.replace(TOY, indicative_when_quick=("C1",))
    run_experiments([toy], tmp_path / "full", quick=False, n_seeds=1, log=lambda *_: None)
    run_experiments([toy], tmp_path / "quick", quick=True, log=lambda *_: None)
    full = json.loads((tmp_path / "full" / "toy" / "results.json").read_text())
    quick = json.loads((tmp_path / "quick" / "toy" / "results.json").read_text())
    assert full["verdicts"][0]["indicative"] is False
    assert quick["verdicts"][0]["indicative"] is True
    html = build_report(tmp_path / "quick").read_text()
    assert "indicative (quick sizes)" in html and "last full run <code>full</code>" in html
    assert "indicative (quick sizes)" not in build_report(tmp_path / "full").read_text()


def test_encoder_experiment_small_run_and_summary_over_seeds(tmp_path):
    from implicit_em.experiments import encoder as exp

    cfg = exp.Config(datasets=("digits",), epochs=2, width=16)
    res = exp.run(cfg, tmp_path)
    fits = res["tables"]["fits"]
    assert {r["variant"] for r in fits} == {"raw pixels", *exp.ABLATION, exp.SAE}
    by = {r["variant"]: r for r in fits}
    assert by[exp.ENCODER]["n_parameters"] == 16 * 65
    assert by[exp.SAE]["n_parameters"] == 2 * 16 * 64 + 16 + 64
    assert 0 <= by[exp.ENCODER]["l0"] <= 16 and 0 < by[exp.ENCODER]["probe_accuracy"] <= 1
    assert res["verdicts"][0].claim == "C11"
    assert res["tables"]["published"][0]["probe_accuracy"] == 0.9343
    # two seeds stacked: mean and 95 % interval per variant, and the comparison
    stacked = {"fits": [{"seed": s, **r} for s in (0, 1) for r in fits]}
    stacked["fits"][-1] = {**stacked["fits"][-1], "probe_accuracy": 0.5}  # sparse AE, seed 1
    extra = exp.across_seeds(stacked, cfg)
    summary = {r["variant"]: r for r in extra["summary_over_seeds"]}
    assert summary[exp.SAE]["seeds"] == 2
    assert summary[exp.SAE]["probe_accuracy"] == pytest.approx(
        (by[exp.SAE]["probe_accuracy"] + 0.5) / 2
    )
    (row,) = extra["encoder_vs_sparse_ae"]
    assert row["dataset"] == "digits" and "intervals" in row["outcome"]


def test_decide_c11_encoder_gives_each_outcome():
    from implicit_em.experiments.encoder import decide_c11_encoder

    assert decide_c11_encoder({"a": (1.0, 0.0), "b": (0.95, 0.05)}, 0.9) == "confirmed"
    assert decide_c11_encoder({"a": (1.0, 0.5)}, 0.9) == "partly"  # the control fails too
    assert decide_c11_encoder({"a": (1.0, 0.0), "b": (0.5, 0.0)}, 0.9) == "partly"
    assert decide_c11_encoder({"a": (0.05, 0.0), "b": (0.0, 0.0)}, 0.9) == "refuted"
    assert decide_c11_encoder({}, 0.9) == "open"


def test_over_seeds_and_separated():
    from implicit_em.experiments.verdicts import over_seeds, separated

    rows = [{"m": m, "acc": a} for m, accs in (("x", (0.90, 0.91, 0.92)),
            ("y", (0.80, 0.81, 0.82)), ("z", (0.85, 0.95, 0.90))) for a in accs]  # fmt: skip
    out = {r["m"]: r for r in over_seeds(rows, ("m",), ("acc",))}
    assert out["x"]["acc"] == pytest.approx(0.91) and out["x"]["seeds"] == 3
    assert out["x"]["acc_lo"] < 0.91 < out["x"]["acc_hi"]
    assert separated(out["x"], out["y"], "acc") == "above"
    assert separated(out["y"], out["x"], "acc") == "below"
    assert separated(out["x"], out["z"], "acc") == "overlap"
    one = over_seeds(rows[:1], ("m",), ("acc",))[0]
    assert one["acc_lo"] is None and separated(one, out["y"], "acc") == "overlap"


def test_local_learners_small_run_and_goals(tmp_path):
    from implicit_em.experiments import local_learners as exp

    cfg = exp.Config(datasets=("digits",), widths=(8, 80), wide=16, epochs=1, epochs_wide=1,
                     softhebb_epochs=1, iem_epochs_scale=0.1)  # fmt: skip
    res = exp.run(cfg, tmp_path)
    fits = res["tables"]["fits"]
    narrow = {r["learner"] for r in fits if r["K"] == 8}
    assert narrow == {"PCA", "triangle k-means", "Krotov-Hopfield", "SoftHebb",
                      "decoder-free encoder", "sparse autoencoder", exp.IEM,
                      exp.BACKPROP}  # fmt: skip
    assert "PCA" not in {r["learner"] for r in fits if r["K"] == 80}  # K > D = 64
    for r in fits:
        assert 0 < r["probe_accuracy"] <= 1 and r["n_parameters"] > 0 and r["fit_s"] > 0
    stacked = {"fits": [{"seed": s, **r} for s in (0, 1, 2) for r in fits]}
    for r in stacked["fits"]:  # make the implicit-EM layer clearly best, with spread
        bump = 0.01 * r["seed"]
        r["probe_accuracy"] = 0.99 - bump if r["learner"] == exp.IEM else 0.5 + bump
    extra = exp.across_seeds(stacked, cfg)
    goal = extra["implicit_em_vs_each_learner"]
    assert {g["outcome"] for g in goal} == {"implicit EM better"}
    assert all(exp.beats_every_local_learner(goal).values())
    goal[0]["outcome"] = "not resolved (intervals overlap)"
    assert not all(exp.beats_every_local_learner(goal).values())
    assert any(r["probe_95"].startswith("98.00 ±") for r in extra["summary_over_seeds"])


def test_implicit_em_features_fit_transform():
    import torch

    from implicit_em.experiments.local_learners import ImplicitEMFeatures

    x = torch.rand(200, 10)
    f = ImplicitEMFeatures(4, epochs=2, distance="euclidean", objective="balance")
    out = f.fit(x).transform(x)
    assert out.shape == (200, 4) and torch.allclose(out.sum(1), torch.ones(200))  # r
    assert f.n_parameters == 40


def test_layerwise_small_run(tmp_path):
    from implicit_em.experiments import layerwise as exp

    cfg = exp.Config(datasets=("digits",), width=8, depth=2, epochs=1, finetune_epochs=1)
    res = exp.run(cfg, tmp_path)
    rows = res["tables"]["layers"]
    modes = {(r["kind"], r["mode"]) for r in rows}
    assert {(k, m) for k in exp.KINDS for m in exp.MODES} <= modes
    assert ("implicit-EM", "greedy, random layer 2") in modes
    for r in rows:
        assert 0 < r["probe_accuracy"] <= 1 and r["layer"] in (1, 2)
    iem = [r for r in rows if r["kind"] == "implicit-EM"]
    assert all(0 <= r["usage_entropy"] <= 1 + 1e-9 for r in iem)
    assert {v.claim for v in res["verdicts"]} == {"C16", "C20"}
    extra = exp.across_seeds(res["tables"], cfg)
    assert {g["goal"] for g in extra["goals"]} == {
        "greedy depth 2 beats depth 1", "fine-tuned within 0.5 points of end to end"}  # fmt: skip


def _layer_rows(greedy, e2e, finetuned, probes=None):
    """Rows for decide_c16/c20: mean |corr| per layer for three modes, probes optional."""
    rows = []
    for mode, corrs in (("greedy", greedy), ("end to end", e2e), ("greedy + fine-tune", finetuned)):
        for i, c in enumerate(corrs):
            rows.append({"dataset": "d", "kind": "implicit-EM", "mode": mode, "layer": i + 1,
                         "mean_abs_corr": c, "probe_accuracy": 0.9})  # fmt: skip
    for (mode, layer), p in (probes or {}).items():
        match = [r for r in rows if (r["mode"], r["layer"]) == (mode, layer)]
        if match:
            match[0]["probe_accuracy"] = p
        else:
            rows.append({"dataset": "d", "kind": "implicit-EM", "mode": mode, "layer": layer,
                         "mean_abs_corr": 0.5, "probe_accuracy": p})  # fmt: skip
    return rows


def test_decide_c16_and_c20_give_each_outcome():
    from implicit_em.experiments.layerwise import decide_c16, decide_c20

    verdict, undone = decide_c16(_layer_rows([0.1, 0.2], [0.3, 0.4], [0.3, 0.3]))
    assert verdict == "confirmed" and undone == pytest.approx((0.2 + 0.1) / (0.2 + 0.2))
    assert decide_c16(_layer_rows([0.1, 0.5], [0.3, 0.4], [0.1, 0.5]))[0] == "partly"
    assert decide_c16(_layer_rows([0.4, 0.5], [0.3, 0.4], [0.4, 0.5]))[0] == "refuted"
    assert decide_c16([])[0] == "open"

    def c20(l1, l2, rand):
        probes = {("greedy", 1): l1, ("greedy", 2): l2, ("greedy, random layer 2", 2): rand}
        return decide_c20(_layer_rows([0.1, 0.1], [0.1, 0.1], [0.1, 0.1], probes), 0.005)

    assert c20(0.90, 0.92, 0.90) == ("confirmed", pytest.approx(0.02))
    assert c20(0.90, 0.92, 0.93)[0] == "partly"
    assert c20(0.92, 0.90, 0.93)[0] == "refuted"


def test_passing_forward_small_run_and_rule(tmp_path):
    from implicit_em.experiments import passing_forward as exp

    cfg = exp.Config(datasets=("digits",), width=16, epochs=1)
    res = exp.run(cfg, tmp_path)
    rows = res["tables"]["outputs"]
    assert {r["output"] for r in rows} == set(exp.OUTPUTS)
    for r in rows:
        assert 0 <= r["accuracy"] <= 1 and r["r2_norm"] <= 1 and r["r2_pcs"] <= 1
    assert res["verdicts"][0].claim == "C21"

    def rows_with(r_norm, solu, others):
        out = [{"dataset": "d", "output": n, "accuracy": 0.9, "r2_norm": 0.9}
               for n in exp.OUTPUTS]  # fmt: skip
        at = {r["output"]: r for r in out}
        at[exp.RESPONSIBILITIES]["r2_norm"] = r_norm
        at[exp.COMPETITIVE[0]]["accuracy"] = solu
        for c in exp.COMPETITIVE[1:]:
            at[c]["accuracy"] = others
        return out

    assert exp.decide_c21(rows_with(0.5, 0.9, 0.9), 0.1, 0.01)[0] == "confirmed"
    assert exp.decide_c21(rows_with(0.9, 0.5, 0.9), 0.1, 0.01)[0] == "partly"
    assert exp.decide_c21(rows_with(0.9, 0.5, 0.5), 0.1, 0.01)[0] == "refuted"


def test_supervised_small_run_and_rule(tmp_path):
    from implicit_em.experiments import supervised as exp

    cfg = exp.Config(datasets=("digits",), hidden=8, epochs=1)
    res = exp.run(cfg, tmp_path)
    rows = res["tables"]["configs"]
    assert {r["config"] for r in rows} == set(exp.CONFIGS)
    assert res["verdicts"][0].claim == "C22" and res["tables"]["published"][3]["accuracy"] == 0.9634
    assert exp.BASELINE not in exp.INFOMAX and exp.FULL in exp.INFOMAX

    def rows_with(acc, dead, red):
        base = {"dataset": "d", "config": exp.BASELINE, "accuracy": 0.9, "dead_units": 2,
                "redundancy": 20.0}  # fmt: skip
        full = {"dataset": "d", "config": exp.FULL, "accuracy": acc, "dead_units": dead,
                "redundancy": red}  # fmt: skip
        return [base, full]

    assert exp.decide_c22(rows_with(0.9, 0, 10.0), 0.002) == ("confirmed", pytest.approx(0.0))
    assert exp.decide_c22(rows_with(0.8, 0, 10.0), 0.002)[0] == "refuted"
    assert exp.decide_c22(rows_with(0.9, 0, 30.0), 0.002)[0] == "refuted"
    mixed = rows_with(0.9, 0, 10.0) + [{**r, "dataset": "e"} for r in rows_with(0.8, 0, 10.0)]
    assert exp.decide_c22(mixed, 0.002)[0] == "partly"


def test_local_learners_redundancy_measures():
    import numpy as np
    import torch

    from implicit_em.baselines import PCA
    from implicit_em.experiments.local_learners import feature_stats, weight_cos

    g = torch.Generator().manual_seed(0)
    a = torch.randn(2000, 1, generator=g)
    f = torch.cat([a, 0.6 * a + 0.8 * torch.randn(2000, 1, generator=g)], 1)  # rho = 0.6
    stats = feature_stats(f)
    rho = float(np.corrcoef(f.numpy().T)[0, 1])  # about 0.6
    assert stats["mean_abs_corr"] == pytest.approx(abs(rho), rel=1e-6)
    assert stats["pairwise_tc"] == pytest.approx(-0.5 * math.log(1 - rho**2), rel=1e-6)
    assert feature_stats(torch.cat([f, torch.ones(2000, 1)], 1))["dead_units"] == 1

    class W:
        weight_ = torch.tensor([[1.0, 0.0], [1.0, 1.0], [0.0, -2.0]])

    s = 1 / math.sqrt(2)
    assert weight_cos(W()) == pytest.approx((s + 0 + s) / 3)
    assert weight_cos(PCA(2).fit(torch.randn(50, 4))) is None
