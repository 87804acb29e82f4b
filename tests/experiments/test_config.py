"""Experiment configs: quick sizes, seeds, --set overrides and declared ranges."""

from dataclasses import dataclass

import pytest

from helpers import TOY
from implicit_em.cli import main
from implicit_em.experiments import (
    ConfigError,
    build_config,
    get_experiments,
    run_experiments,
)
from implicit_em.experiments.config import check_overrides, parse_overrides


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


@pytest.mark.parametrize(
    ("item", "match"),
    [
        (
            "identities.trials=-5",
            r"identities\.trials: expected a value >= 1 and <= 200000, got -5",
        ),
        ("identities.trials=0", r"identities\.trials: expected a value >= 1 and <= 200000, got 0"),
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
    ("item", "match"),
    [
        ("infomax.permutations=99999999999999999999", r"<= 200000, got 99999999999999999999"),
        ("identities.max_size=100000", r"identities.max_size: expected a value >= 1 and <= 64"),
    ],
)
def test_counts_have_an_upper_bound(item, match):
    """Issue 22, medium 12: a count with extra digits is refused before anything runs."""
    (exp,) = get_experiments([item.split(".")[0]])
    with pytest.raises(ConfigError, match=match):
        build_config(exp, overrides=parse_overrides([item]))
