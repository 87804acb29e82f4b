"""``Monitor``: record chosen diagnostics every N steps during training."""

from __future__ import annotations

from collections.abc import Callable

import torch
from typing_extensions import override

from ..training.callbacks import Callback, TrainState


class Monitor(Callback):
    """Evaluate named probes every ``every`` steps (and at the start and end of training).

    Each probe is ``fn(model) -> float | dict[str, float]``; a dict is flattened as
    ``name.key``. Probes run under ``torch.no_grad()`` with the model in eval mode (its
    mode is restored afterwards) and only on rank 0. ``history`` is a list of records
    ``{"step", "epoch", name: value, ...}``, saved with checkpoints so that a resumed
    run keeps its history.

    Examples:
        >>> from implicit_em.diagnostics import unit_health
        >>> x = torch.randn(256, 2)
        >>> net = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.ReLU())
        >>> mon = Monitor({"dead": lambda m: unit_health(m(x))["dead_activity_fraction"]})
        >>> mon.record(net, step=0)["step"]
        0
    """

    def __init__(self, probes: dict[str, Callable], every: int = 100):
        if not probes:
            raise ValueError("Monitor needs at least one probe")
        if every < 1:
            raise ValueError(f"every must be >= 1, got {every}")
        self.probes = dict(probes)
        self.every = int(every)
        self.history: list[dict] = []

    def record(self, model: torch.nn.Module, step: int, epoch: int = 0) -> dict:
        """Evaluate every probe now and append the record to ``history``."""
        was_training = model.training
        model.eval()
        row: dict[str, float] = {"step": int(step), "epoch": int(epoch)}
        try:
            with torch.no_grad():
                for name, fn in self.probes.items():
                    value = fn(model)
                    items = value.items() if isinstance(value, dict) else [(None, value)]
                    for key, v in items:
                        row[name if key is None else f"{name}.{key}"] = float(v)
        finally:
            model.train(was_training)
        self.history.append(row)
        return row

    def _due(self, step: int) -> bool:
        return not self.history or self.history[-1]["step"] != step

    @override
    def on_train_start(self, state: TrainState) -> None:
        if state.rank == 0 and not self.history:
            self.record(state.model, state.step, state.epoch)

    @override
    def on_step_end(self, state: TrainState) -> None:
        if state.rank == 0 and state.step % self.every == 0 and self._due(state.step):
            self.record(state.model, state.step, state.epoch)

    @override
    def on_train_end(self, state: TrainState) -> None:
        if state.rank == 0 and self._due(state.step):
            self.record(state.model, state.step, state.epoch)

    @override
    def state_dict(self) -> dict:
        return {"history": list(self.history)}

    @override
    def load_state_dict(self, state: dict) -> None:
        self.history = list(state.get("history", []))

    def series(self, name: str) -> tuple[list[int], list[float]]:
        """``(steps, values)`` of one recorded quantity, for plotting."""
        rows = [r for r in self.history if name in r]
        return [r["step"] for r in rows], [r[name] for r in rows]
