"""Experiment ``conv``: its goals give each outcome; a tiny real run on stand-in images
measures every learner at every depth, resumes finished cells and draws its figures."""

import pytest
import torch

from implicit_em.experiments import conv as C
from implicit_em.experiments.figures import filter_grid
from implicit_em.experiments.rules import grade_goals


def _rows(iem, softhebb, kmeans, seeds=3, fit=(1.0, 2.0)):
    rows = []
    for seed in range(seeds):
        for name, acc in ((C.IEM, iem), (C.SOFTHEBB, softhebb), (C.KMEANS, kmeans)):
            rows.append({"dataset": "mnist", "depth": 1, "learner": name, "seed": seed,
                         "probe_accuracy": acc + 0.001 * seed,
                         "fit_s": fit[0] if name == C.IEM else fit[1]})  # fmt: skip
    return rows


def _outcomes(rows):
    tables = {"fits": rows, **C.across_seeds({"fits": rows}, C.Config())}
    return {(g["goal"][:8], g["cell"].split(":")[0]): g["outcome"]
            for g in grade_goals(C.GOALS, tables, C.Config())}  # fmt: skip


def test_goals_can_be_met_or_missed():
    met = _outcomes(_rows(0.998, 0.99, 0.98))
    assert set(met.values()) == {"met"}, met
    assert len(met) == 4  # the target, two learners beaten, the time ratio
    missed = _outcomes(_rows(0.97, 0.99, 0.98, fit=(3.0, 1.0)))
    assert set(missed.values()) == {"missed"}, missed
    pairs = C.across_seeds({"fits": _rows(0.9, 0.9, 0.9, seeds=1, fit=(1.0, 4.0))}, C.Config())
    assert [(r["learner"], r["fit_time_ratio"]) for r in pairs["versus"]] == [
        (C.SOFTHEBB, 0.25), (C.KMEANS, 0.25)]  # fmt: skip


def test_channel_health_counts_dead_and_duplicated_channels():
    g = torch.Generator().manual_seed(0)
    base = torch.rand(50, 1, 3, 3, generator=g)
    noise = torch.rand(50, 1, 3, 3, generator=g)
    f = torch.cat([base, 2 * base, torch.zeros(50, 1, 3, 3), noise], 1)
    out = C.channel_health(f, 0.9)
    assert out["dead_channels"] == 1
    assert abs(out["redundant_share"] - 2 / 3) < 1e-6  # two of the three live channels
    # the same patches answered at shifted locations is not a duplicate
    shifted = torch.cat([base, base.roll(1, 2)], 1)
    assert C.channel_health(shifted, 0.9)["redundant_share"] == 0.0


def test_a_tiny_run_measures_every_depth_and_resumes(tmp_path, monkeypatch):
    g = torch.Generator().manual_seed(0)
    images = (torch.rand(60, 1, 12, 12, generator=g), torch.arange(60) % 3,
              torch.rand(30, 1, 12, 12, generator=g), torch.arange(30) % 3)  # fmt: skip
    monkeypatch.setattr(C, "conv_images", lambda name, cfg: images if name == "mnist" else None)
    cfg = C.Config(datasets=("mnist", "cifar10"), depth=2, width_scale=0.05,
                   kmeans_patches=500, readout_epochs=2, iem_batch=16)  # fmt: skip
    first = C.run(cfg, tmp_path)
    rows = first["tables"]["fits"]
    assert {(r["learner"], r["depth"]) for r in rows} == {
        (n, d) for n in C.LEARNERS for d in (1, 2)}  # fmt: skip
    assert [r["channels"] for r in rows if r["learner"] == C.IEM] == [5, 19]
    assert all(0 <= r["probe_accuracy"] <= 1 and r["fit_s"] > 0 for r in rows)
    calls = []
    monkeypatch.setattr(C, "measure_stack", lambda *a: calls.append(a) or ([], []))
    assert C.run(cfg, tmp_path)["tables"]["fits"] == rows  # every cell was saved
    assert calls == []
    result = {**first, "seed": 0, "tables": {**first["tables"],
                                              **C.across_seeds(first["tables"], cfg)}}  # fmt: skip
    search = result["tables"]["depth_search"]  # the committed depth search, in the report
    assert {r["depth"] for r in search} == {1, 2, 3} and "SoftHebb" in {
        r["setting"] for r in search
    }
    diagnostic = result["tables"]["depth_diagnostic"]  # issue 35, item 3: per depth
    assert [(r["dataset"], r["depth"]) for r in diagnostic] == [("mnist", 1), ("mnist", 2)]
    assert all(0 <= r["usage_entropy"] <= 1 and r["spread_over_T"] > 0 for r in diagnostic)
    assert all("usage_entropy" not in r for r in rows if r["learner"] != C.IEM)
    figures = C.plot(result, tmp_path)
    assert [f for f, _ in figures] == ["filters.png", "accuracy_by_depth.png"]
    assert all((tmp_path / f).stat().st_size > 1000 for f, _ in figures)
    assert "CIFAR-10" in C.EXPERIMENT.describe_data(cfg)


def test_filter_grid_tiles_grey_and_colour():
    assert filter_grid(torch.rand(5, 1, 3, 3).numpy()).shape == (12, 12)
    assert filter_grid(torch.rand(4, 3, 5, 5).numpy()).shape == (12, 12, 3)


def test_the_docs_block_comes_from_a_run(tmp_path, monkeypatch):
    from implicit_em.cli import main
    from implicit_em.experiments import run_experiments
    from implicit_em.experiments.config import parse_overrides
    from implicit_em.report.benchmark import benchmark_markdown, markers

    g = torch.Generator().manual_seed(0)
    images = (torch.rand(40, 1, 10, 10, generator=g), torch.arange(40) % 2,
              torch.rand(20, 1, 10, 10, generator=g), torch.arange(20) % 2)  # fmt: skip
    monkeypatch.setattr(C, "conv_images", lambda name, cfg: images if name == "mnist" else None)
    run_dir = tmp_path / "run"
    status = run_experiments([C.EXPERIMENT], run_dir, quick=True, jobs=1, log=lambda *_: None,
                             overrides=parse_overrides(["conv.depth=1"]))  # fmt: skip
    assert status == {"conv": "done"}
    text = benchmark_markdown(run_dir, "conv")
    assert "| learner | mnist, depth 1 |" in text and f"| {C.IEM} | " in text
    assert "| one implicit-EM conv layer trains in no more time than SoftHebb's |" in text
    start, end = markers("conv")
    page = tmp_path / "conv.md"
    page.write_text(f"intro\n{start}\nstale\n{end}\n")
    assert main(["report", str(run_dir), "--conv", str(page)]) == 0
    assert "stale" not in page.read_text() and text in page.read_text()
    small_start, small_end = markers("conv-small")
    page.write_text(f"{small_start}\nstale\n{small_end}\n")
    assert main(["report", str(run_dir), "--conv", str(page), "--block", "conv-small"]) == 0
    assert page.read_text() == f"{small_start}\n{text}{small_end}\n"


def test_the_quick_version_runs_on_real_mnist(tmp_path):
    """What CI runs: ``iem run conv --quick`` on the standard split (skipped without it)."""
    import pytest

    from implicit_em.data import find_mnist
    from implicit_em.experiments import run_experiments
    from implicit_em.experiments.results import read_results

    if find_mnist() is None:
        pytest.skip("MNIST not available: set IEM_DATA (CI uses ../shared/data)")
    status = run_experiments([C.EXPERIMENT], tmp_path, quick=True, jobs=1, log=lambda *_: None)
    assert status == {"conv": "done"}
    res = read_results(tmp_path / "conv" / "results.json")
    summary = res.tables["summary_over_seeds"]
    assert {(r["learner"], r["depth"]) for r in summary if r["dataset"] == "mnist"} == {
        (n, d) for n in C.LEARNERS for d in (1, 2)}  # fmt: skip
    assert all(r["probe_accuracy"] > 0.3 for r in summary)  # well above chance (0.1)
    assert (tmp_path / "conv" / "filters.png").stat().st_size > 1000


def test_cifar10_images_come_from_its_batches_when_they_are_there(tmp_path, monkeypatch):
    import pickle

    import numpy as np

    from implicit_em.data.cifar10 import TEST, TRAIN

    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for name in TRAIN + TEST:
        batch = {b"data": rng.integers(0, 256, (8, 3072), dtype=np.uint8),
                 b"labels": list(range(8))}  # fmt: skip
        (folder / name).write_bytes(pickle.dumps(batch))
    monkeypatch.setenv("IEM_DATA", str(tmp_path))
    with pytest.warns(UserWarning, match="differ from the official CIFAR-10 batches"):
        x, y, xt, _ = C.conv_images("cifar10", C.Config(cifar_train=20, test_images=5))
    assert x.shape == (20, 3, 32, 32) and xt.shape == (5, 3, 32, 32)
    assert float(x.min()) >= 0 and float(x.max()) <= 1 and y.dtype == torch.int64
    said = C.EXPERIMENT.describe_data(C.Config())  # our batches are not the official ones
    assert "not the official ones (not CIFAR-10" in said and "50000 of the 50k" in said
    monkeypatch.setenv("IEM_DATA", str(tmp_path / "none"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert C.conv_images("cifar10", C.Config()) is None
    assert "CIFAR-10: not available" in C.EXPERIMENT.describe_data(C.Config())


def test_iem_epochs_are_per_block_and_the_last_repeats():
    """``iem_epochs`` per block (the depth search's lever): block 2 of ``(1, 3)`` trains
    3 epochs, as does any block after it (counted by the layer's training steps)."""
    x = torch.rand(40, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    cfg = C.Config(iem_epochs=(1, 3), iem_batch=16)
    spec = {"out_channels": 3, "kernel_size": 3, "padding": 1, "pool": None}
    steps = []
    for index in range(3):
        block = C.make_block(C.IEM, 1, spec, cfg, index)
        C.fit_block(C.IEM, block, x, cfg, index)
        steps.append(block.layer._steps)
    assert steps == [3, 9, 9]  # ceil(40 / 16) = 3 batches an epoch
