"""EM-structure map rows on hand-built models (fx and hook paths)."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from implicit_em import lse
from implicit_em.diagnostics import em_structure
from implicit_em.diagnostics.em_structure import EM, GATE, LINEAR, NORM


def _rows(m):
    return [(r.op, r.kind, r.em) for r in m.rows]


def test_relu_mlp_has_em_only_at_the_head():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    with torch.no_grad():
        net[0].bias[:2] = -100.0  # two dead ReLU units out of 8
    x = torch.randn(64, 4)
    m = em_structure(net, x, head="cross_entropy")
    assert m.method == "torch.fx"
    assert _rows(m) == [
        ("Linear", LINEAR, False),
        ("ReLU", GATE, False),
        ("Linear", LINEAR, False),
        ("cross_entropy", EM, True),
    ]
    relu = m.rows[1]
    with torch.no_grad():
        want = float((net[0](x) <= 0).all(0).float().mean())  # never positive on the batch
    assert relu.dead_fraction == want >= 2 / 8 and relu.coupling == 0.0
    assert 0 <= m.rows[-1].responsibility_entropy <= 1
    assert [r.name for r in m.em_rows] == ["loss"]
    text = str(m)
    assert "cross_entropy" in text and "element-wise gate" in text


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.att = nn.MultiheadAttention(8, 2, batch_first=True)
        self.ln = nn.LayerNorm(8)

    def forward(self, x):
        a, _ = self.att(x, x, x)
        return self.ln(x + a)


def test_attention_block_and_layernorm():
    m = em_structure(Block(), torch.randn(3, 5, 8))
    kinds = {r.op: r for r in m.rows}
    assert kinds["MultiheadAttention"].em and kinds["MultiheadAttention"].kind == EM
    assert 0 < kinds["MultiheadAttention"].responsibility_entropy <= 1
    ln = kinds["LayerNorm"]
    assert not ln.em and ln.kind == NORM and ln.coupling > 0.1  # couples units, no r


class Functional(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(4, 6)

    def forward(self, x):
        z = self.lin(x)
        r = lse.responsibilities(z)
        return torch.tanh(z).sum(-1) + F.log_softmax(z, dim=1).sum(-1) + (r * z).sum(-1)


def test_functional_ops_and_library_lse_ops_are_found():
    torch.manual_seed(1)
    x = torch.randn(32, 4)
    m = em_structure(Functional(), x)
    ops = {r.op: r for r in m.rows}
    assert set(ops) == {"Linear", "responsibilities", "tanh", "log_softmax"}
    assert ops["responsibilities"].em and ops["log_softmax"].em and not ops["tanh"].em
    # the measured entropy is that of softmax(-z) for the library op
    model = Functional()
    mm = em_structure(model, x)
    with torch.no_grad():
        r = torch.softmax(-model.lin(x), -1)
    h = (-(r * r.log()).sum(-1) / torch.log(torch.tensor(6.0))).mean()
    got = next(row for row in mm.rows if row.op == "responsibilities").responsibility_entropy
    assert abs(got - float(h)) < 1e-5
    # softmax Jacobian couples units; tanh's is diagonal
    assert ops["log_softmax"].coupling > 0.1 and ops["tanh"].coupling == 0.0


class Branchy(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(4, 6)
        self.act = nn.ReLU()
        self.soft = nn.Softmax(dim=-1)

    def forward(self, x):
        z = self.lin(x)
        if z.sum() > 0:  # data-dependent control flow: fx cannot trace it
            z = z * 2
        return self.soft(self.act(z))


def test_untraceable_model_falls_back_to_hooks():
    m = em_structure(Branchy(), torch.randn(10, 4))
    assert m.method == "forward hooks" and m.notes
    assert _rows(m) == [("Linear", LINEAR, False), ("ReLU", GATE, False), ("Softmax", EM, True)]
    assert m.to_rows()[2]["axis"] == -1


def test_model_mode_is_restored_and_bad_arguments():
    net = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.5))
    net.train()
    em_structure(net, torch.randn(4, 2))
    assert net.training
    with pytest.raises(ValueError, match="head"):
        em_structure(net, torch.randn(4, 2), head="mse")
    with pytest.raises(TypeError):
        em_structure(lambda x: x, torch.randn(4, 2))


def test_competitive_modules_are_classified_soft_or_hard():
    from implicit_em.activations import LWTA, Maxout, SoLU
    from implicit_em.diagnostics.em_structure import HARD

    net = nn.Sequential(nn.Linear(4, 12), SoLU(), LWTA(3), nn.Linear(12, 12), Maxout(3))
    rows = {r.op: r for r in em_structure(net, torch.randn(32, 4)).rows}
    assert rows["SoLU"].kind == EM and rows["SoLU"].em and rows["SoLU"].coupling > 0.01
    assert rows["LWTA"].kind == HARD and not rows["LWTA"].em
    assert rows["LWTA"].responsibility_entropy == 0.0  # hard assignment
    assert rows["Maxout"].kind == HARD and rows["Maxout"].shape == (32, 4)


class HiddenSoftmax(nn.Module):
    """A softmax written out by hand: no name the lookup table knows."""

    def forward(self, z):
        e = torch.exp(z - z.amax(-1, keepdim=True))
        return e / e.sum(-1, keepdim=True)


class Lookalike(nn.Module):
    """Exponentiates like a softmax but never normalises."""

    def forward(self, z):
        return torch.exp(z) / 10


def _forms(*ops, x=None):
    net = nn.Sequential(nn.Linear(6, 6), *ops)
    rows = em_structure(net, torch.randn(16, 6) if x is None else x).rows
    return {r.op: (r.jacobian_form, r.em_behaviour) for r in rows[1:]}


def test_jacobian_form_judges_behaviour_not_names():
    from implicit_em.activations import GroupedSoLU, NegLogSoftmin, SoLU
    from implicit_em.diagnostics.em_structure import (
        COUPLED,
        ELEMENTWISE,
        RESPONSIBILITY,
        TWO_HYPOTHESIS,
    )

    forms = _forms(
        nn.Softmax(-1), nn.LogSoftmax(-1), SoLU(), GroupedSoLU(3), NegLogSoftmin(),
        nn.LayerNorm(6), nn.Tanh(), nn.Sigmoid(), nn.ReLU(), nn.GELU(), nn.SiLU(),
        nn.Softsign(), HiddenSoftmax(), Lookalike(),
    )  # fmt: skip
    for op in ("Softmax", "LogSoftmax", "SoLU", "GroupedSoLU", "NegLogSoftmin", "HiddenSoftmax"):
        assert forms[op] == (RESPONSIBILITY, True), op
    assert forms["LayerNorm"] == (COUPLED, False)  # rank-2 coupling: normalises, no r
    assert forms["Tanh"] == forms["Sigmoid"] == (TWO_HYPOTHESIS, True)  # C5: r+ - r-
    for op in ("ReLU", "GELU", "SiLU", "Softsign", "Lookalike"):
        assert forms[op] == (ELEMENTWISE, False), op


def test_responsibility_form_rejects_other_couplings():
    from importlib import import_module

    mod = import_module("implicit_em.diagnostics.em_structure")
    r = torch.softmax(torch.randn(6, dtype=torch.float64), 0)
    soft = torch.diag(r) - torch.outer(r, r)
    assert mod.responsibility_form(soft)
    assert mod.responsibility_form(torch.block_diag(soft[:3, :3], soft[3:, 3:]))  # groups
    assert not mod.responsibility_form(torch.diag(r))  # no coupling at all
    y = torch.randn(6, dtype=torch.float64)  # LayerNorm-like: -(1 + y_i y_j) / K, rank 2
    assert not mod.responsibility_form(torch.eye(6) - (1 + torch.outer(y, y)) / 6)
    signed = torch.randn(6, dtype=torch.float64)  # rank 1 but r of both signs
    assert not mod.responsibility_form(torch.diag(r) - torch.outer(r, signed))


def test_two_hypothesis_form_on_functions():
    from importlib import import_module

    mod = import_module("implicit_em.diagnostics.em_structure")
    like = torch.zeros(2, 5)
    assert mod.two_hypothesis_form(lambda z: 3 * torch.tanh(z / 2), like)  # any scale
    assert mod.two_hypothesis_form(torch.sigmoid, like)
    assert not mod.two_hypothesis_form(lambda z: z, like)  # constant derivative
    assert not mod.two_hypothesis_form(torch.nn.functional.softsign, like)
    assert not mod.two_hypothesis_form(lambda z: torch.zeros_like(z), like)
