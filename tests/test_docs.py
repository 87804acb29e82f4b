"""The README and the documentation pages: every ```python block runs as written, the
README's findings table is the committed copy in docs/findings.md, the benchmark tables
are generated, and every public package has an API reference page."""

import importlib.util
import json
import re
from pathlib import Path

import pytest

import implicit_em

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCKS = [
    (page.name, i, block)
    for page in PAGES
    for i, block in enumerate(re.findall(r"```python\n(.*?)```", page.read_text(), flags=re.S))
]
START, END = "<!-- findings:start -->", "<!-- findings:end -->"


def test_the_pages_have_examples():
    assert sum(page == "README.md" for page, _, _ in BLOCKS) >= 1
    assert sum(page == "tour.md" for page, _, _ in BLOCKS) >= 10


@pytest.mark.parametrize(("page", "index", "block"), BLOCKS, ids=[f"{p}-{i}" for p, i, _ in BLOCKS])
def test_python_block_runs(page, index, block):
    exec(compile(block, f"{page}[python block {index}]", "exec"), {})


def _table(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("|")]


def _claim_rows(text: str) -> list[list[str]]:
    return [
        [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
        for line in _table(text)
        if re.match(r"\| C\d+ \|", line)
    ]


def test_the_readme_findings_are_the_committed_copy():
    readme = (ROOT / "README.md").read_text()
    assert START in readme and END in readme
    block = readme.split(START, 1)[1].split(END, 1)[0]
    committed = (ROOT / "docs" / "findings.md").read_text()
    full = _claim_rows(committed)
    # ID, claim and verdict of every row of the findings page, in its order
    assert _claim_rows(block) == [[r[0], r[1], r[3]] for r in full] and len(full) > 20
    stamp = next(line for line in committed.splitlines() if line.startswith("Run `"))
    assert stamp in block
    verdicts = [r[3].strip("*") for r in full]
    counts = ", ".join(f"{verdicts.count(v)} {v}" for v in dict.fromkeys(
        sorted(verdicts, key=lambda v: -verdicts.count(v))))  # fmt: skip
    assert f"{len(full)} claims: {counts}." in block


def _hooks():
    spec = importlib.util.spec_from_file_location("docs_hooks", ROOT / "docs" / "_hooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_benchmark_tables_are_generated_from_the_results(tmp_path):
    hooks = _hooks()
    assert "No benchmark results yet" in hooks.benchmark_tables(tmp_path)
    rows = [{"case": "a|b", "ratio": 0.81234, "met": False}]
    (tmp_path / "layers.json").write_text(
        json.dumps({"meta": {"env": {"torch": "x"}}, "rows": rows})
    )
    (tmp_path / "layers-quick.json").write_text(json.dumps({"meta": {}, "rows": rows}))
    (tmp_path / "layers.busy.json").write_text(json.dumps({"meta": {}, "rows": rows}))
    text = hooks.benchmark_tables(tmp_path)
    assert "## `bench/layers.py`" in text and "layers-quick" not in text
    assert "layers.busy" not in text and "Machine state not recorded" in text
    assert "| a\\|b | 0.812 | no |" in text and "torch x" in text
    state = {"load_start": 3.5, "load_end": 1.0, "cores": 2, "blas": "openblas", "busy": True}
    (tmp_path / "layers.json").write_text(
        json.dumps({"meta": {"machine_state": state}, "rows": rows})
    )
    text = hooks.benchmark_tables(tmp_path)
    assert "**taken on a busy machine**" in text and "Load average 3.50 at the start" in text
    goals = [
        {"case": "fast", "ratio": 0.5, "goal": 0.6},
        {"case": "slow", "ratio": 0.7, "goal": 0.6},
        {"case": "x", "speedup": 12.0, "goal": 10},
        {"case": "y", "ratio": 2.0},
    ]
    (tmp_path / "layers.json").write_text(json.dumps({"meta": {}, "rows": goals}))
    text = hooks.benchmark_tables(tmp_path)
    assert "| fast | 0.5 | 0.6 | yes |" in text and "| slow | 0.7 | 0.6 | no |" in text
    assert "| x |  | 10 | yes | 12 |" in text and "| y | 2 |  |  |  |" in text
    page = (ROOT / "docs" / "benchmarks.md").read_text()
    assert hooks.MARKER in page and hooks.MARKER not in hooks.on_page_markdown(
        page, None, None, None
    )


def test_every_public_package_has_an_api_page():
    documented = {
        m
        for page in (ROOT / "docs" / "api").glob("*.md")
        for m in re.findall(r"^::: (\S+)", page.read_text(), flags=re.M)
    }
    packages = {f"implicit_em.{name}" for name in ("lse", "identities", "activations", "layers",
                "objectives", "diagnostics", "mixture", "training", "data", "baselines",
                "experiments", "report")}  # fmt: skip
    modules = {
        f"implicit_em.{n}" for n in implicit_em.__all__ if not n[0].isupper() and "_" not in n[:1]
    }
    assert packages <= documented
    assert {m for m in modules if importlib.util.find_spec(m)} <= documented


def test_the_docs_build_refuses_public_names_without_docstrings(tmp_path):
    pytest.importorskip("griffe", reason="the docs extra (pip install -e '.[docs]')")
    pkg = tmp_path / "toy_pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text('"""Toy."""\n')
    (pkg / "mod.py").write_text(
        '"""Mod."""\n\n\ndef documented():\n    """Yes."""\n\n\ndef bare():\n    pass\n\n\n'
        "def _private():\n    pass\n\n\nclass Thing:\n    def method(self):\n        pass\n"
    )
    missing = _hooks().undocumented("toy_pkg", (str(tmp_path),))
    assert sorted(missing) == ["toy_pkg.mod.Thing", "toy_pkg.mod.Thing.method", "toy_pkg.mod.bare"]
    assert _hooks().undocumented() == []  # the package itself


def test_maths_is_rendered_to_mathml_at_build_time():
    """No script and no network: inline and display formulas become MathML; one that
    cannot be converted fails the build with its text."""
    hooks = _hooks()
    page = ('<p>A <span class="arithmatex">\\(r_j = e^{-d_j}\\)</span> and</p>'
            '<div class="arithmatex">\\[ L(d) = \\log\\sum_j e^{-d_j} \\]</div>')  # fmt: skip
    out = hooks.mathml(page)
    assert "arithmatex" not in out and "\\(" not in out
    assert out.count("<math") == 2 and 'display="block"' in out and 'display="inline"' in out
    assert "<msub><mi>r</mi><mi>j</mi></msub>" in out.replace("<mrow>", "").replace("</mrow>", "")
    with pytest.raises(ValueError, match="cannot render the formula"):
        hooks.mathml('<span class="arithmatex">\\(x^\\)</span>')
    mkdocs = (ROOT / "mkdocs.yml").read_text()
    assert "mathjax" not in mkdocs.lower() and "http" not in mkdocs.split("extra_javascript")[-1]


def test_the_benchmarks_page_opens_with_every_goal_and_its_machine(tmp_path):
    hooks = _hooks()
    assert "No benchmark with a goal" in hooks.headline_table(tmp_path)
    meta = {"env": {"threads": 2, "cpu": "AMD EPYC", "cpu_flags": "avx2"}}
    rows = [{"case": "a", "speedup": 13.08, "goal": 10}, {"case": "b", "ratio": 1.34, "goal": 1},
            {"case": "no goal", "ratio": 0.5}]  # fmt: skip
    (tmp_path / "x.json").write_text(json.dumps({"meta": meta, "rows": rows}))
    (tmp_path / "x-quick.json").write_text(json.dumps({"meta": meta, "rows": rows}))
    table = hooks.headline_table(tmp_path).splitlines()
    assert len(table) == 4  # header, rule, the two rows with a goal (quick runs left out)
    assert "13.1× faster | ≥ 10× faster | yes | AMD EPYC (avx2), 2 threads" in table[2]
    assert "1.34× the baseline's | ≤ 1× | **no**" in table[3]
    old = {"env": {"threads": 2, "machine": "x86_64"}}  # taken before the CPU was recorded
    (tmp_path / "x.json").write_text(json.dumps({"meta": old, "rows": rows[:1]}))
    assert "x86_64 (CPU model not recorded)" in hooks.headline_table(tmp_path)
    page = hooks.on_page_markdown(f"{hooks.HEADLINE}\n\n{hooks.MARKER}", None, None, None)
    # the page's markers take the committed results (bench/results)
    assert "| benchmark | case | measured |" in page and "## `bench/mixture.py`" in page


def test_the_layers_page_opens_with_the_main_class_and_lists_every_public_name():
    import implicit_em.layers as layers

    text = (ROOT / "docs" / "api" / "layers.md").read_text()
    shown = [line.split(".")[-1] for line in text.splitlines() if line.startswith(":::")]
    shown += [line.strip()[2:] for line in text.splitlines() if line.startswith("        - ")]
    assert shown[0] == "ImplicitEMLayer" and shown[1] == "ImplicitEMConv2d"
    assert sorted(n for n in shown if n != "layers") == sorted(layers.__all__)


def test_dotted_names_in_narrative_pages_link_to_the_api_reference():
    hooks = _hooks()
    text = ("Use `implicit_em.layers.ImplicitEMLayer`, see `implicit_em.layers`; "
            "`implicit_em.experiments.rules.grade` and `implicit_em._sklearn` stay code, as "
            "does an already linked [`implicit_em.lse`][implicit_em.lse].")  # fmt: skip
    out = hooks.link_dotted_names(text)
    assert "[`implicit_em.layers.ImplicitEMLayer`][implicit_em.layers.ImplicitEMLayer]" in out
    assert "[`implicit_em.layers`][implicit_em.layers]" in out
    assert "`implicit_em.experiments.rules.grade` and `implicit_em._sklearn` stay" in out
    assert out.count("[`implicit_em.lse`]") == 1
    assert hooks.api_target("implicit_em.diagnostics.power_readout") is not None
    assert hooks.api_target("implicit_em.layers.implicit_em_layer") is None  # a module


def test_the_krotov_reproduction_table_is_generated_from_the_result(tmp_path):
    hooks = _hooks()
    assert "No reproduction committed yet" in hooks.reproduction_table(tmp_path)
    kw = {"p": 3.0, "k": 7, "lr": 0.02, "epochs": 200}
    rows = [
        {"setting": "short", "readout": "power top layer (the paper's)", "test_accuracy": 0.981,
         "fit_s": 600.0, "kwargs": kw},
        {"setting": "short", "readout": "linear probe, C = 0.1 (held-out)",
         "test_accuracy": 0.9745, "fit_s": 600.0, "kwargs": kw},
        {"setting": "long", "readout": "power top layer (the paper's)", "test_accuracy": 0.984,
         "train_accuracy": 0.987, "fit_s": 3000.0, "kwargs": {**kw, "epochs": 1000}},
    ]  # fmt: skip
    meta = {"published": 0.9854, "seed": 0, "readout_epochs": 300, "env": {"cpu": "AMD EPYC"}}
    (tmp_path / "krotov_reproduction.json").write_text(json.dumps({"meta": meta, "rows": rows}))
    table = hooks.reproduction_table(tmp_path).splitlines()
    assert table[0].endswith("| power top layer (the paper's) | tuned probe |")
    short = "| short | p 3, k 7, lr 0.02, epochs 200 | 10 min | 98.10 % | 97.45 % (C 0.1) |"
    assert table[2] == short
    assert table[3] == "| long | p 3, k 7, lr 0.02, epochs 1000 | 50 min | 98.40 % | — |"
    assert "(long) is 0.14 points short of it" in table[-1] and "AMD EPYC" in table[-1]
    assert "fits its own training images to 98.70 %" in table[-1]
