"""make_optimizer: Adam and AdamW fused where they can be, the same update as torch's."""

import pytest
import torch

from implicit_em.training.loop import make_optimizer


@pytest.mark.parametrize("name", ["adam", "adamw"])
def test_fused_steps_match_the_plain_optimiser_in_float64(name):
    g = torch.Generator().manual_seed(0)
    w0 = torch.randn(40, 7, dtype=torch.float64, generator=g)
    a, b = torch.nn.Parameter(w0.clone()), torch.nn.Parameter(w0.clone())
    fused = make_optimizer(name, [a], lr=1e-2, weight_decay=0.01)
    plain = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW}[name](
        [b], lr=1e-2, weight_decay=0.01, foreach=False
    )
    assert fused.defaults["fused"] is True
    for _ in range(60):
        grad = torch.randn(40, 7, dtype=torch.float64, generator=g)
        for p, opt in ((a, fused), (b, plain)):
            p.grad = grad.clone()
            opt.step()
    assert float((a.detach() - w0).abs().max()) > 0.1  # the weights moved
    torch.testing.assert_close(a, b, rtol=0, atol=1e-12)


def test_sgd_and_param_groups_are_left_unfused():
    w = torch.nn.Parameter(torch.zeros(3))
    assert not make_optimizer("sgd", [w], lr=0.1).defaults.get("fused")
    groups = [{"params": [w], "lr": 0.5}]
    assert not make_optimizer("adam", groups, lr=0.1).defaults["fused"]


def test_a_callable_builds_the_optimiser_and_a_bad_name_is_refused():
    w = torch.nn.Parameter(torch.zeros(3))
    opt = make_optimizer(lambda ps: torch.optim.SGD(ps, lr=0.3), [w], lr=0.1)
    assert opt.defaults["lr"] == 0.3
    with pytest.raises(ValueError, match="optimizer must be one of"):
        make_optimizer("adagrad", [w], lr=0.1)
