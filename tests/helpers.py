"""Shared test data and a toy experiment (``tests/`` is put on ``sys.path`` by conftest,
so test modules and the runner's worker processes import this as ``helpers``)."""

from dataclasses import dataclass

import numpy as np
import torch

from implicit_em.experiments import Experiment, Rule


def blobs(n=300, d=12, k=3, seed=0):
    """``k`` Gaussian blobs in ``d`` dimensions: float32 ``x`` ``(n, d)`` and labels ``y``."""
    g = np.random.default_rng(seed)
    centres = 3 * g.standard_normal((k, d))
    y = g.integers(0, k, n)
    x = centres[y] + 0.5 * g.standard_normal((n, d))
    return torch.tensor(x, dtype=torch.float32), torch.tensor(y)


def gradient_settings(ct, **kw):
    """The mixture gradient solver's ``Settings`` for covariance type ``ct``: Adam at
    0.05, full batch, 64-row chunks, ``reg = 1e-6``, 5 epochs; ``kw`` overrides."""
    from implicit_em.mixture import _gradient
    from implicit_em.mixture.gaussian import COVARIANCES

    base = {
        "cov": COVARIANCES[ct], "optimizer": "adam", "learning_rate": 0.05, "batch_size": None,
        "chunk_size": 64, "reg": 1e-6, "tol": 0.0, "max_iter": 5,
    }  # fmt: skip
    return _gradient.Settings(**(base | kw))


def correlated(n=200, d=5, seed=0, dtype=torch.float64):
    """A batch ``(n, d)`` of correlated Gaussian activations."""
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(d, d, generator=g, dtype=dtype)
    return torch.randn(n, d, generator=g, dtype=dtype) @ a


@dataclass
class ToyConfig:
    seed: int = 0
    n: int = 10
    rate: float = 0.5
    flag: bool = False
    name: str = "a"
    sizes: tuple[int, ...] = (1, 2)
    limit: int | None = None


CALLS = []  # every config toy_run was called with


def toy_run(cfg, out_dir):
    CALLS.append(cfg)
    if cfg.name == "boom":
        raise RuntimeError("exploded on purpose")
    value = cfg.n * cfg.rate
    return {
        "metrics": {"value": value},
        "tables": {"t": [{"n": cfg.n, "value": value}]},
    }


TOY = Experiment("toy", "A toy", ("C1",), ToyConfig, toy_run, quick={"n": 2},
                 rules=(Rule("C1", "t", "value", "<", 100.0),))  # fmt: skip
BOOM = Experiment("boom", "Fails", ("C2",), ToyConfig, toy_run, quick={"name": "boom"},
                  rules=(Rule("C2", "t", "value", "<", 100.0),))  # fmt: skip


def stand_in_mnist(monkeypatch, module, n_train: int, n_test: int, description: str):
    """Make ``module`` (an experiment) see random 16-pixel images with 3 classes as MNIST."""
    g = torch.Generator().manual_seed(0)
    x, xt = torch.rand(n_train, 16, generator=g), torch.rand(n_test, 16, generator=g)

    class Images:
        y_train = torch.arange(n_train) % 3
        y_test = torch.arange(n_test) % 3

    monkeypatch.setattr(module, "image_tensors", lambda *a: iter([("mnist", Images, x, xt)]))
    monkeypatch.setattr(module, "describe_image_data", lambda *a: description)
