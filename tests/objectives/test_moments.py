"""Batch moments: two gloo processes equal one process; the diagonal helper."""

import torch

from implicit_em.objectives import _moments


def test_two_gloo_processes_match_one_process(tmp_path, run_script):
    script = "objectives_ddp_script.py"
    run_script(script, tmp_path / "one.pt")
    run_script(script, tmp_path / "two.pt", processes=2)
    one, two = torch.load(tmp_path / "one.pt"), torch.load(tmp_path / "two.pt")
    for name in one:
        torch.testing.assert_close(two[name][0], one[name][0], rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(two[name][1], one[name][1], rtol=1e-8, atol=1e-10)


def test_add_to_diagonal_is_c_plus_value_times_identity_and_leaves_c_alone():
    c = torch.randn(5, 5, dtype=torch.float64, requires_grad=True)
    before = c.detach().clone()
    out = _moments.add_to_diagonal(c, 0.25)
    torch.testing.assert_close(out, c + 0.25 * torch.eye(5, dtype=torch.float64), rtol=0, atol=0)
    torch.testing.assert_close(c.detach(), before, rtol=0, atol=0)
    assert torch.autograd.gradcheck(lambda m: _moments.add_to_diagonal(m, 0.25), (c,))
