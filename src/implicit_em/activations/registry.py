"""One registry of every activation the library ships, driving the shared tests,
the benchmark and the experiments."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch import nn

from .competitive import LWTA, GroupedSoftmax, GroupedSoLU, Maxout, NegLogSoftmin, SoLU
from .derived import DerivedActivation


@dataclass(frozen=True)
class ActivationSpec:
    """``factory()`` builds the module; ``kind`` is ``"derived"`` or ``"competitive"``;
    ``elementwise`` is true when the Jacobian is diagonal; ``group`` is the group size
    the input width must be a multiple of (1 if none). ``surrogate`` builds the module
    whose gradient a straight-through activation uses in its backward pass."""

    name: str
    factory: Callable[[], nn.Module]
    kind: str
    elementwise: bool
    group: int = 1
    surrogate: Callable[[], nn.Module] | None = None


def _derived(name, model, **params):
    return ActivationSpec(name, lambda: DerivedActivation(model, **params), "derived", True)


ACTIVATIONS: dict[str, ActivationSpec] = {
    s.name: s
    for s in (
        _derived("gaussian", "gaussian", m=1.0, sigma=1.0),
        _derived("laplace", "laplace", m=1.0, b=1.0),
        _derived("student_t", "student_t", m=1.0, sigma=1.0, nu=3.0),
        _derived("cauchy", "cauchy", m=1.0, sigma=1.0),
        _derived("huber", "huber", m=1.0, sigma=1.0, delta=1.0),
        _derived("three_level", "three_level", m=2.0, sigma=1.0),
        _derived("gate_silu", "gate", link="logistic", output="gated"),
        _derived("gate_gelu", "gate", link="probit", output="gated"),
        _derived("gate_sigmoid", "gate", link="logistic", output="probability"),
        _derived("soft_relu_t0.1", "soft_relu", temperature=0.1),
        _derived("gaussian_prior", "gaussian_prior", tau=1.0, sigma=1.0),
        _derived("laplace_prior", "laplace_prior", b=1.0, sigma=1.0),
        ActivationSpec("solu", lambda: SoLU(), "competitive", False),
        ActivationSpec("neg_log_softmin", lambda: NegLogSoftmin(), "competitive", False),
        ActivationSpec("grouped_softmax", lambda: GroupedSoftmax(8), "competitive", False, 8),
        ActivationSpec("grouped_solu", lambda: GroupedSoLU(8), "competitive", False, 8),
        ActivationSpec("lwta", lambda: LWTA(4), "competitive", False, 4),
        ActivationSpec(
            "lwta_st",
            lambda: LWTA(4, straight_through=True),
            "competitive",
            False,
            4,
            surrogate=lambda: GroupedSoLU(4),
        ),
        ActivationSpec("maxout", lambda: Maxout(4), "competitive", False, 4),
    )
}


def make_activation(name: str) -> nn.Module:
    """A fresh module of the registered activation ``name``."""
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; available: {', '.join(ACTIVATIONS)}")
    return ACTIVATIONS[name].factory()
