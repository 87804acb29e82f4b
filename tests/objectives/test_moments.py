"""Distributed batch moments: two gloo processes equal one process."""

import torch


def test_two_gloo_processes_match_one_process(tmp_path, run_script):
    script = "objectives_ddp_script.py"
    run_script(script, tmp_path / "one.pt")
    run_script(script, tmp_path / "two.pt", processes=2)
    one, two = torch.load(tmp_path / "one.pt"), torch.load(tmp_path / "two.pt")
    for name in one:
        torch.testing.assert_close(two[name][0], one[name][0], rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(two[name][1], one[name][1], rtol=1e-8, atol=1e-10)
