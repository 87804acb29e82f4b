r"""Greedy layer-wise training: each layer on its own objective, on the frozen outputs below.

``train_layerwise(net, x)`` walks ``net`` (an ``nn.Sequential`` or a list of modules).
A *stage* is a module with an ``objective(x)`` method (an
:class:`~implicit_em.layers.ImplicitEMLayer`) or one given an objective in
``objectives={index: fn(module, x)}``. Stage by stage: train it with :func:`train` on
the outputs of everything before it (frozen), then freeze it. Modules that are not
stages (activations, a linear head) are fixed transforms here.

The frozen outputs are computed once and cached when they fit in ``cache_bytes``;
otherwise they are recomputed for every batch (same numbers, more time). With
``checkpoint_dir`` every stage checkpoints to ``stage-<index>.pt`` through
:func:`train`, so an interrupted run resumes mid-stage with the same weights as an
uninterrupted one. Under ``torchrun`` the stage is wrapped so that DDP sees its
objective as the forward pass.

:func:`finetune` then trains the whole network end to end on a task loss, plain or
with the stages' own objectives kept as weighted auxiliary terms (the notes ask whether
end-to-end training undoes the layer-wise specialisation; claim C16).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import torch
from torch import nn

from .._fingerprint import fingerprint
from .loop import TrainResult, describe_callable, train, trained_objects

__all__ = ["LayerwiseResult", "finetune", "train_layerwise"]


@dataclass
class LayerwiseResult:
    """What :func:`train_layerwise` returns.

    Attributes:
        stages: the index in the network of every trained stage, in order.
        results: each stage's :class:`~implicit_em.training.TrainResult`.
        cached: whether each stage trained on cached inputs (else recomputed per batch).
        wall_s: seconds in all.
    """

    stages: list[int] = field(default_factory=list)
    results: list[TrainResult] = field(default_factory=list)
    cached: list[bool] = field(default_factory=list)
    wall_s: float = 0.0


class _Objective(nn.Module):
    """``forward(x)`` = the stage's objective terms, on the frozen ``prefix(x)`` when the
    inputs are not cached (so DDP, which hooks ``forward``, sees the whole computation)."""

    def __init__(self, stage: nn.Module, fn: Callable, prefix: nn.Module | None):
        super().__init__()
        self.stage, self.fn, self.prefix = stage, fn, prefix

    def forward(self, x):
        if self.prefix is not None:
            with torch.no_grad():
                x = self.prefix(x)
        return self.fn(self.stage, x)

    def extra_repr(self) -> str:  # in the checkpoint's record of the work
        """The objective as a value (its fingerprint) and, when the inputs are not
        cached, the weights of the frozen stages below (the data's hash covers them
        otherwise)."""
        fn = describe_callable(self.fn, trained_objects(self))
        if self.prefix is None:
            return f"objective={fn}"
        return f"objective={fn}, prefix_state={fingerprint(self.prefix.state_dict())}"


def _modules(net) -> list[nn.Module]:
    if isinstance(net, nn.Sequential):
        return list(net)
    if isinstance(net, Sequence) and all(isinstance(m, nn.Module) for m in net):
        return list(net)
    raise TypeError(f"net must be an nn.Sequential or a list of modules, got {type(net).__name__}")


@torch.no_grad()
def _forward_in_chunks(prefix: nn.Module, x: torch.Tensor, chunk: int = 4096) -> torch.Tensor:
    return torch.cat([prefix(c) for c in x.split(chunk)]) if len(x) else prefix(x)


def train_layerwise(
    net: nn.Sequential | Sequence[nn.Module],
    x: torch.Tensor,
    *,
    objectives: dict[int, Callable] | None = None,
    epochs: int | Sequence[int] = 10,
    batch_size: int = 256,
    lr: float = 1e-3,
    optimizer: str | Callable = "adam",
    cache_bytes: int = 2**31,
    checkpoint_dir: str | Path | None = None,
    resume: bool | str = True,
    seed: int = 0,
    progress: bool = True,
    **train_kwargs: Any,
) -> LayerwiseResult:
    """Train the stages of ``net`` one after another, each on its own objective.

    Args:
        net: ``nn.Sequential`` or list of modules (trained in place).
        x: ``(n, D)`` training inputs, or images ``(n, C, H, W)`` for convolutional stages.
        objectives: ``{index: fn(module, x) -> scalar | {name: term}}``, overriding or
            adding stages; default: every module with an ``objective`` method.
        epochs: per stage, one number or one per stage.
        batch_size: mini-batch size of every stage (see :func:`train`).
        lr: learning rate of every stage.
        optimizer: as in :func:`train`.
        seed: stage ``i`` is seeded with ``seed + i``.
        progress: show a progress bar per stage.
        **train_kwargs: passed on to :func:`train`.
        cache_bytes: cache the frozen inputs of a stage when they take at most this.
        checkpoint_dir: folder for ``stage-<index>.pt`` checkpoints (resumable).
        resume: as in :func:`train`.

    Returns:
        :class:`LayerwiseResult`; the stages are frozen (``requires_grad=False``) and in
        eval mode afterwards.

    Raises:
        ValueError: no stage, a stage index out of range, widths that do not chain
            (checked on two rows before any training), or ``epochs`` of the wrong length.

    Examples:
        >>> from implicit_em.layers import build
        >>> net = build("6-4:iem-3:iem")
        >>> res = train_layerwise(net, torch.randn(64, 6), epochs=1, batch_size=32,
        ...                       progress=False)
        >>> res.stages, res.cached
        ([0, 1], [True, True])
    """
    modules = _modules(net)
    objectives = dict(objectives or {})
    for i in objectives:
        if not isinstance(i, int) or not 0 <= i < len(modules):
            raise ValueError(f"objectives has index {i!r}; net has modules 0..{len(modules) - 1}")
    stages = [
        i
        for i, m in enumerate(modules)
        if i in objectives or callable(getattr(m, "objective", None))
    ]
    if not stages:
        raise ValueError(
            "net has no stage to train: no module has an objective(x) method and "
            "objectives={index: fn} names none"
        )
    per_stage = [epochs] * len(stages) if isinstance(epochs, int) else list(epochs)
    if len(per_stage) != len(stages):
        raise ValueError(f"epochs has {len(per_stage)} entries for {len(stages)} stages {stages}")
    if not isinstance(x, torch.Tensor) or x.ndim < 2 or len(x) < 2:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"x must be a (n, D) or (n, C, H, W) tensor with n >= 2, got {shape}")
    # widths chain? one cheap pass on two rows before any training, in eval mode so that
    # it changes no state (batch-norm statistics, means placed from data)
    modes = [m.training for m in modules]
    with torch.no_grad():
        try:
            nn.Sequential(*modules).eval()(x[:2])
        except (RuntimeError, ValueError) as err:
            raise ValueError(f"the modules of net do not chain on x: {err}") from None
        finally:
            for m, mode in zip(modules, modes, strict=True):
                m.train(mode)
    folder = Path(checkpoint_dir) if checkpoint_dir is not None else None
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)

    min_batch = train_kwargs.pop("min_batch", 2)  # a last batch of 1: no batch statistics
    start = time.perf_counter()
    result = LayerwiseResult()
    for stage, n_epochs in zip(stages, per_stage, strict=True):
        module = modules[stage]
        prefix = nn.Sequential(*modules[:stage]).eval()
        width = _forward_in_chunks(prefix, x[:1]).shape[1:].numel() if stage else x.shape[1]
        cached = stage == 0 or len(x) * width * x.element_size() <= cache_bytes
        data = _forward_in_chunks(prefix, x) if cached else x
        fn = objectives.get(stage, lambda m, z: m.objective(z))
        wrapper = _Objective(module, fn, None if cached else prefix)
        module.train()
        res = train(
            wrapper,
            lambda m, b: m(b[0]),
            (data,),
            epochs=n_epochs,
            batch_size=batch_size,
            lr=lr,
            optimizer=optimizer,
            checkpoint=folder / f"stage-{stage}.pt" if folder is not None else None,
            resume=resume,
            seed=seed + stage,
            min_batch=min_batch,
            progress=progress,
            description=f"layer-wise: stage {stage} ({type(module).__name__})",
            **train_kwargs,
        )
        module.requires_grad_(False).eval()
        result.stages.append(stage)
        result.results.append(res)
        result.cached.append(cached)
    result.wall_s = time.perf_counter() - start
    return result


class _EndToEnd(nn.Module):
    """``forward(*batch)`` = ``{"task": loss_fn(net(x), batch), "layers": w * sum of the
    stages' objectives on their own inputs}``, in one pass through ``net``."""

    def __init__(self, modules, stages, loss_fn, layer_weight):
        super().__init__()
        self.net = nn.ModuleList(modules)
        self.stages, self.loss_fn, self.layer_weight = set(stages), loss_fn, layer_weight

    def extra_repr(self) -> str:  # in the checkpoint's record of the work
        """The task loss as a value (its fingerprint), the stages and their weight."""
        loss = describe_callable(self.loss_fn, trained_objects(self))
        return f"loss_fn={loss}, stages={sorted(self.stages)}, layer_weight={self.layer_weight}"

    def forward(self, x, *rest):
        aux, h = 0.0, x
        for i, m in enumerate(self.net):
            if self.layer_weight and i in self.stages:
                aux = aux + sum(cast(Any, m).objective(h).values())
            h = m(h)
        terms = {"task": self.loss_fn(h, (x, *rest))}
        if self.layer_weight:
            terms["layers"] = self.layer_weight * aux
        return terms


def finetune(
    net: nn.Sequential | Sequence[nn.Module],
    data: Any,
    loss_fn: Callable,
    *,
    layer_weight: float = 0.0,
    epochs: int = 1,
    batch_size: int = 256,
    lr: float = 1e-4,
    **train_kwargs: Any,
) -> TrainResult:
    """Train every parameter of ``net`` end to end on ``loss_fn(output, batch)``.

    ``layer_weight > 0`` adds ``layer_weight * sum_s objective_s(input_s)`` over the
    stages (modules with an ``objective`` method), each on its own input in the same
    forward pass: the layer-wise objectives kept as auxiliary terms. Parameters frozen
    by :func:`train_layerwise` are unfrozen first.

    Examples:
        >>> from implicit_em.layers import build
        >>> net = build("6-4:iem-3")
        >>> x, y = torch.randn(32, 6), torch.randint(0, 3, (32,))
        >>> ce = lambda out, batch: nn.functional.cross_entropy(out, batch[1])
        >>> res = finetune(net, (x, y), ce, layer_weight=0.1, epochs=1, batch_size=16,
        ...                progress=False)
        >>> sorted(k for k in res.history[-1] if k in ("task", "layers"))
        ['layers', 'task']
    """
    modules = _modules(net)
    if not isinstance(layer_weight, (int, float)) or not layer_weight >= 0:
        raise ValueError(f"layer_weight must be a number >= 0, got {layer_weight!r}")
    stages = [i for i, m in enumerate(modules) if callable(getattr(m, "objective", None))]
    if layer_weight and not stages:
        raise ValueError("layer_weight > 0 needs stages (modules with an objective method)")
    for m in modules:
        m.requires_grad_(True).train()
    wrapper = _EndToEnd(modules, stages, loss_fn, float(layer_weight))
    return train(
        wrapper,
        lambda m, b: m(*b),
        data,
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        description="fine-tune end to end",
        **train_kwargs,
    )
