r"""The EM-structure map of any ``nn.Module``: where does implicit EM live?

Implicit EM needs exponentiation and normalisation over alternatives (a log-sum-exp):
there the gradient is a responsibility. :func:`em_structure` walks a model -- with
``torch.fx`` when it traces, with forward hooks otherwise -- and returns one row per
layer/op:

* ``kind``: ``normalisation over alternatives`` (softmax, log_softmax, softmin,
  logsumexp, cross-entropy, attention, the library's LSE ops and soft competitive
  modules: **EM structure**), ``hard competition (no LSE)`` (maxout, hard LWTA:
  zero-temperature assignment, measured but not EM), ``element-wise gate`` (ReLU, tanh,
  GELU, ...: none), ``linear``,
  ``normalisation (no alternatives)`` (LayerNorm, BatchNorm: none) or ``other``;
* measured on the example batch: the mean normalised responsibility entropy
  (``H(r) / log K``: 0 = hard assignment, 1 = uniform) and the dead fraction
  (gates: units whose derivative is ``< dead_tol`` on every input; EM ops: alternatives
  whose responsibility stays ``< dead_tol`` on every input), and the cross-unit
  ``coupling`` ``||J - diag(J)||_F / ||J||_F`` of ops that map a vector to a vector of
  the same shape (0 for element-wise gates; competition needs it to be > 0);
* judged from behaviour, not from the op's name (``jacobian_form``, ``em_behaviour``):
  the Jacobian ``J`` of an op that keeps its input's shape is measured numerically and
  has the **responsibility form** when, on every coupled group of units, its
  off-diagonal part is ``-v_i r_j`` with one non-negative profile ``r`` (softmax:
  ``diag(r) - r r^T``; SoLU: ``diag(r) + diag(z)(diag(r) - r r^T)``; LayerNorm's
  rank-2 coupling is not); an element-wise op has the **two-hypothesis form** when its
  derivative is the variance of a two-point posterior whose mean is its output,
  ``f'(z) = kappa (f - lo)(hi - f)`` on a grid of inputs (tanh: ``1 - f^2``; sigmoid:
  ``f (1 - f)``; ReLU and GELU are not). Either form is EM behaviour.

A custom module without children is mapped whole (not traced into), so its Jacobian
is judged even when its name says nothing. Library modules take part by defining
``em_responsibilities(*inputs)``: the
responsibilities they normalise, with the alternatives on the last axis (``self.dim``
is reported as the axis).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import torch
import torch.fx as fx
import torch.nn.functional as F
from torch import nn

from .. import lse as _lse
from .._checks import check_finite

EM = "normalisation over alternatives"
HARD = "hard competition (no LSE)"
GATE = "element-wise gate"
LINEAR = "linear"
NORM = "normalisation (no alternatives)"
OTHER = "other"


# ----------------------------------------------------------------------------- op tables
# Each EM entry maps to a function (args, kwargs, output) -> (responsibilities, axis).


def _dim(args, kwargs, pos, default=-1):
    if "dim" in kwargs and kwargs["dim"] is not None:
        return kwargs["dim"]
    return args[pos] if len(args) > pos and isinstance(args[pos], int) else default


def _from_output(pos=1):
    return lambda a, k, out: (out, _dim(a, k, pos))


def _exp_output(pos=1):
    return lambda a, k, out: (out.exp(), _dim(a, k, pos))


def _softmax_of_input(pos=1, sign=1.0, default=-1):
    def f(a, k, out):
        axis = _dim(a, k, pos, default)
        return torch.softmax(sign * a[0], axis), axis

    return f


def _sdpa(a, k, out):
    q, key = a[0], a[1]
    scale = k.get("scale") or 1.0 / math.sqrt(q.shape[-1])
    scores = q @ key.transpose(-2, -1) * scale
    mask = k.get("attn_mask", a[3] if len(a) > 3 else None)
    if k.get("is_causal", False):
        causal = torch.ones(scores.shape[-2:], dtype=torch.bool, device=q.device).tril()
        scores = scores.masked_fill(~causal, -math.inf)
    if mask is not None:
        scores = scores.masked_fill(~mask, -math.inf) if mask.dtype == torch.bool else scores + mask
    return torch.softmax(scores, -1), -1


EM_FUNCTIONS = {
    F.softmax: ("softmax", _from_output()),
    torch.softmax: ("softmax", _from_output()),
    F.softmin: ("softmin", _from_output()),
    F.log_softmax: ("log_softmax", _exp_output()),
    torch.log_softmax: ("log_softmax", _exp_output()),
    torch.logsumexp: ("logsumexp", _softmax_of_input()),
    F.cross_entropy: ("cross_entropy", _softmax_of_input(pos=99, default=1)),
    F.scaled_dot_product_attention: ("scaled_dot_product_attention", _sdpa),
    _lse.lse_objective: ("lse_objective", _softmax_of_input(sign=-1.0)),
    _lse.lse_loss: ("lse_loss", _softmax_of_input(sign=-1.0)),
    _lse.responsibilities: ("responsibilities", _from_output()),
    _lse.distance_cross_entropy: ("distance_cross_entropy", _softmax_of_input(pos=2, sign=-1.0)),
    _lse.attention_log_partition: ("attention_log_partition", _softmax_of_input()),
    _lse.attention_weights: ("attention_weights", _from_output()),
}
EM_METHODS = {
    "softmax": _from_output(),
    "log_softmax": _exp_output(),
    "logsumexp": _softmax_of_input(),
}
GATE_MODULES = (
    nn.ReLU,
    nn.ReLU6,
    nn.LeakyReLU,
    nn.PReLU,
    nn.RReLU,
    nn.ELU,
    nn.SELU,
    nn.CELU,
    nn.GELU,
    nn.SiLU,
    nn.Mish,
    nn.Tanh,
    nn.Sigmoid,
    nn.Hardtanh,
    nn.Hardsigmoid,
    nn.Hardswish,
    nn.Softplus,
    nn.Softsign,
    nn.Tanhshrink,
    nn.Softshrink,
    nn.Hardshrink,
    nn.LogSigmoid,
)
GATE_FUNCTIONS = {
    F.relu: "relu",
    torch.relu: "relu",
    F.relu6: "relu6",
    F.leaky_relu: "leaky_relu",
    F.elu: "elu",
    F.selu: "selu",
    F.celu: "celu",
    F.gelu: "gelu",
    F.silu: "silu",
    F.mish: "mish",
    torch.tanh: "tanh",
    F.tanh: "tanh",
    torch.sigmoid: "sigmoid",
    F.sigmoid: "sigmoid",
    F.hardtanh: "hardtanh",
    F.softplus: "softplus",
    F.softsign: "softsign",
    F.hardswish: "hardswish",
    F.logsigmoid: "logsigmoid",
}
GATE_METHODS = {"relu", "tanh", "sigmoid", "relu_", "tanh_", "sigmoid_"}
LINEAR_MODULES = (nn.Linear, nn.Bilinear, nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Embedding)
NORM_MODULES = (nn.LayerNorm, nn.BatchNorm1d, nn.BatchNorm2d, nn.GroupNorm, nn.RMSNorm)
SKIP_MODULES = (nn.Dropout, nn.Identity, nn.Flatten, nn.Unflatten)


# ----------------------------------------------------------------------------- result


@dataclass
class EMRow:
    """One layer/op of the map (see the module docstring for the measured columns)."""

    name: str
    op: str
    kind: str
    em: bool
    axis: int | None
    shape: tuple
    responsibility_entropy: float | None = None
    dead_fraction: float | None = None
    coupling: float | None = None
    jacobian_form: str | None = None
    em_behaviour: bool | None = None


@dataclass
class EMStructureMap:
    """The rows of :func:`em_structure`, how they were found, and notes."""

    rows: list[EMRow]
    method: str
    notes: list[str] = field(default_factory=list)

    @property
    def em_rows(self) -> list[EMRow]:
        """The rows whose operation is an EM step (soft or hard)."""
        return [r for r in self.rows if r.em]

    def to_rows(self) -> list[dict]:
        """The table as a list of plain dicts (for JSON/CSV)."""
        return [dict(asdict(r), shape=list(r.shape)) for r in self.rows]

    def __str__(self) -> str:
        def f(v):
            return "-" if v is None else (f"{v:.3f}" if isinstance(v, float) else str(v))

        head = (
            "layer/op",
            "op",
            "EM",
            "axis",
            "kind",
            "shape",
            "H(r)/logK",
            "dead",
            "coupling",
            "Jacobian",
        )
        body = [
            (
                r.name,
                r.op,
                "yes" if r.em else "no",
                f(r.axis),
                r.kind,
                "x".join(map(str, r.shape)),
                f(r.responsibility_entropy),
                f(r.dead_fraction),
                f(r.coupling),
                f(r.jacobian_form),
            )
            for r in self.rows
        ]
        widths = [
            max(len(h), *(len(b[i]) for b in body)) if body else len(h) for i, h in enumerate(head)
        ]
        lines = ["  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True))]
        lines.append("  ".join("-" * w for w in widths))
        lines += ["  ".join(c.ljust(w) for c, w in zip(b, widths, strict=True)) for b in body]
        lines.append(f"(traced with {self.method})")
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)


# ----------------------------------------------------------------------------- measuring


def _entropy_and_dead(r: torch.Tensor, axis: int, dead_tol: float) -> tuple[float, float]:
    r = r.detach().float().movedim(axis, -1)
    k = r.shape[-1]
    r = r.reshape(-1, k)
    h = -(r * torch.log(r.clamp_min(1e-30))).sum(-1)
    entropy = float(h.mean() / math.log(k)) if k > 1 else 0.0
    dead = float((r.amax(0) < dead_tol).double().mean())
    return entropy, dead


def _unit_axis(ndim: int) -> int:
    return 1 if ndim in (4, 5) else -1  # channels for conv maps, features otherwise


def _gate_dead(op, z: torch.Tensor, dead_tol: float) -> float:
    z = z.detach().float().clone().requires_grad_(True)
    with torch.enable_grad():
        (g,) = torch.autograd.grad(op(z).sum(), z)
    axis = _unit_axis(z.ndim)
    active = (g.abs() >= dead_tol).movedim(axis, -1).reshape(-1, z.shape[axis]).any(0)
    return float((~active).double().mean())


RESPONSIBILITY = "responsibility"
TWO_HYPOTHESIS = "two-hypothesis"
COUPLED = "coupled, other"
ELEMENTWISE = "element-wise, other"
EM_FORMS = (RESPONSIBILITY, TWO_HYPOTHESIS)
FORM_TOL = 1e-6  # how exactly a form must hold (float64 Jacobians)
GRID = torch.linspace(-4.0, 4.0, 161, dtype=torch.float64)  # element-wise probe inputs


def _jacobians(op, z: torch.Tensor, axis: int, rows: int = 4) -> list[torch.Tensor] | None:
    """``J = d op(x)_i / d x_i`` along ``axis`` (float64) for a few single inputs ``x_i``
    of the batch ``z``, the others held fixed; ``None`` when ``op`` changes the shape."""
    z = z.detach().double()
    if z.ndim == 0 or z.shape[axis] < 2 or z.shape[axis] > 512:
        return None
    op = _double(op)
    moved = z.movedim(axis, -1)
    flat = moved.reshape(-1, moved.shape[-1])
    jacs = []
    for i in range(min(rows, flat.shape[0])):

        def single(v, i=i):
            x = flat.clone()
            x[i] = v
            out = op(x.reshape(moved.shape).movedim(-1, axis))
            if not isinstance(out, torch.Tensor) or out.shape != z.shape:
                raise ValueError("shape changes")
            return out.movedim(axis, -1).reshape(flat.shape)[i]

        try:
            jacs.append(torch.autograd.functional.jacobian(single, flat[i]))
        except (ValueError, RuntimeError, TypeError):
            return None
    return jacs


def _double(op):
    """``op`` in float64: a module is copied (its parameters frozen), a function kept."""
    if not isinstance(op, nn.Module):
        return op
    import copy

    return copy.deepcopy(op).double().requires_grad_(False)


def _coupling(jacs: list[torch.Tensor]) -> float:
    """``||offdiag J||_F / ||J||_F`` pooled over the Jacobians."""
    total = sum(float((j * j).sum()) for j in jacs)
    off = sum(float((j.triu(1) ** 2).sum() + (j.tril(-1) ** 2).sum()) for j in jacs)
    return math.sqrt(off / total) if total > 0 else 0.0


def responsibility_form(jac: torch.Tensor, tol: float = FORM_TOL) -> bool:
    """Whether the off-diagonal part ``O`` of ``jac`` (K, K) is ``-v_i r_j`` with one
    non-negative profile ``r`` on every group of coupled units.

    Exact test, no fitting: within a group of ``>= 3`` units any two rows of ``O``,
    restricted to the columns other than their own two, are parallel (``|cos| >= 1 -
    tol``); and each row's non-zero entries share one sign (``r`` keeps one sign).
    Uncoupled ``jac``: ``False``.

    Examples:
        >>> r = torch.softmax(torch.randn(5, dtype=torch.float64), 0)
        >>> responsibility_form(torch.diag(r) - torch.outer(r, r))
        True
        >>> responsibility_form(torch.eye(5, dtype=torch.float64) - 0.2)  # centring: r = 1/5
        True
    """
    jac = jac.double()
    eye = torch.eye(len(jac), dtype=torch.bool)
    off = torch.where(eye, 0.0, jac)
    tiny = 1e-12 * float(jac.abs().max())
    linked = off.abs() > tiny
    if not linked.any():
        return False
    if ((off > tiny).any(1) & (off < -tiny).any(1)).any():  # a row with both signs
        return False
    # groups of coupled units: the transitive closure of the coupling pattern
    reach = (linked | linked.T | eye).double()
    for _ in range(int(math.log2(len(jac))) + 1):
        reach = ((reach @ reach) > 0).double()
    same = reach.bool() & ~eye & (reach.sum(1, keepdim=True) >= 3)
    # G_ik = sum_j O_ij O_kj skips columns i and k by itself (O's diagonal is 0)
    gram = off @ off.T
    sq = (off * off).sum(1)
    norms = ((sq[:, None] - off * off) * (sq[None, :] - off.T * off.T)).clamp_min(0).sqrt()
    check = same & (norms > tiny * tiny)
    cos = gram[check].abs() / norms[check]
    return bool((cos >= 1 - tol).all())


def two_hypothesis_form(
    op: Callable[[torch.Tensor], torch.Tensor], like: torch.Tensor, tol: float = FORM_TOL
) -> bool:
    """Whether the element-wise ``op``'s derivative is ``kappa (f - lo)(hi - f)`` on
    :data:`GRID` (a concave quadratic in the output ``f`` whose roots bracket ``f``):
    the variance of a two-point posterior on ``{lo, hi}`` with mean ``f``.

    ``like``: a batch of the shape ``op`` expects; samples of its shape carry the grid.

    Examples:
        >>> two_hypothesis_form(torch.tanh, torch.zeros(3, 4))
        True
        >>> two_hypothesis_form(torch.relu, torch.zeros(3, 4))
        False
    """
    row = like[:1]  # one sample's shape; as many samples as the grid needs
    rows = -(-len(GRID) // row.numel())
    n = rows * row.numel()
    z = GRID.repeat(-(-n // len(GRID)))[:n].reshape(rows, *row.shape[1:])
    z = z.clone().requires_grad_(True)
    try:
        with torch.enable_grad():
            f = _double(op)(z)
            if not isinstance(f, torch.Tensor) or f.shape != z.shape:
                return False
            (d,) = torch.autograd.grad(f.sum(), z)
    except (RuntimeError, TypeError, ValueError):
        return False
    f, d = f.detach().flatten(), d.flatten()
    if d.abs().max() == 0 or not torch.isfinite(f).all():
        return False
    design = torch.stack([torch.ones_like(f), f, f * f], 1)
    coef = torch.linalg.lstsq(design, d[:, None]).solution.flatten()
    resid = float(torch.linalg.norm(design @ coef - d) / torch.linalg.norm(d))
    c, b, a = (float(x) for x in coef)
    if resid > tol or a >= -tol * float(d.abs().max()) / max(float(f.var()), 1e-30):
        return False
    disc = b * b - 4 * a * c
    if disc < 0:
        return False
    roots = sorted(((-b + s * math.sqrt(disc)) / (2 * a)) for s in (1, -1))
    span = float(f.max() - f.min())
    return roots[0] <= float(f.min()) + tol * span and roots[1] >= float(f.max()) - tol * span


def _behaviour(op, z: torch.Tensor | None, axis: int) -> tuple[float | None, str | None]:
    """``(coupling, jacobian_form)`` of ``op`` on the batch ``z`` (``None``s when the
    Jacobian cannot be measured: shape changes, too many units, no tensor input)."""
    if z is None or not z.is_floating_point():
        return None, None
    jacs = _jacobians(op, z, axis)
    if jacs is None:
        return None, None
    coupling = _coupling(jacs)
    if coupling > 1e-9:
        form = RESPONSIBILITY if all(responsibility_form(j) for j in jacs) else COUPLED
    else:
        form = TWO_HYPOTHESIS if two_hypothesis_form(op, z) else ELEMENTWISE
    return coupling, form


def _row(name, op, kind, em, axis, shape, ent=None, dead=None, behaviour=(None, None)):
    coupling, form = behaviour
    return EMRow(
        name,
        op,
        kind,
        em,
        axis,
        shape,
        ent,
        dead,
        coupling,
        form,
        None if form is None else form in EM_FORMS,
    )


# ----------------------------------------------------------------------------- classification


def _is_em_module(m: nn.Module) -> bool:
    return isinstance(
        m, (nn.Softmax, nn.LogSoftmax, nn.Softmin, nn.MultiheadAttention, nn.CrossEntropyLoss)
    ) or hasattr(m, "em_responsibilities")


def _gate_row(name, label, op, z, shape, dead_tol) -> EMRow:
    """An element-wise gate: dead units, coupling and Jacobian form along the unit axis."""
    axis = _unit_axis(z.ndim)
    dead = _gate_dead(op, z, dead_tol)
    return _row(name, label, GATE, False, axis, shape, None, dead, _behaviour(op, z, axis))


def _module_row(name, m, args, kwargs, out, dead_tol) -> EMRow | None:
    op = type(m).__name__
    shape = tuple(out.shape) if isinstance(out, torch.Tensor) else ()
    if isinstance(m, SKIP_MODULES):
        return None
    z = args[0] if args and isinstance(args[0], torch.Tensor) else None
    same = z is not None and isinstance(out, torch.Tensor) and out.shape == z.shape
    if _is_em_module(m):
        # r: the responsibilities; r_axis: their alternatives; axis: the axis reported
        if hasattr(m, "em_responsibilities"):  # library modules: alternatives last
            r, r_axis, axis = m.em_responsibilities(*args), -1, getattr(m, "dim", -1)
        elif isinstance(m, nn.MultiheadAttention):
            kw = dict(kwargs, need_weights=True, average_attn_weights=False)
            with torch.no_grad():
                r, r_axis = m(*args, **kw)[1], -1
            shape = tuple(out[0].shape)
        elif isinstance(m, nn.CrossEntropyLoss):
            r, r_axis = torch.softmax(args[0], 1 if args[0].ndim > 1 else 0), 1
        else:  # Softmax, Softmin, LogSoftmax
            r = out.exp() if isinstance(m, nn.LogSoftmax) else out
            r_axis = m.dim if m.dim is not None else -1
        if not hasattr(m, "em_responsibilities"):
            axis = r_axis
        ent, dead = _entropy_and_dead(r, r_axis, dead_tol)
        behaviour = _behaviour(m, z, axis) if same else (None, None)
        soft = bool(getattr(m, "em_soft", True))
        return _row(name, op, EM if soft else HARD, soft, axis, shape, ent, dead, behaviour)
    if isinstance(m, GATE_MODULES) and z is not None:
        return _gate_row(name, op, m, z, shape, dead_tol)
    if isinstance(m, LINEAR_MODULES):
        return EMRow(name, op, LINEAR, False, None, shape)
    if isinstance(m, NORM_MODULES) and z is not None:
        axis = -1 if isinstance(m, nn.LayerNorm) else 1
        return _row(name, op, NORM, False, axis, shape, behaviour=_behaviour(m, z, axis))
    # anything else: its name says nothing, its Jacobian may (a module hiding a softmax)
    if same and z is not None:
        axis = _unit_axis(z.ndim)
        return _row(name, op, OTHER, False, axis, shape, behaviour=_behaviour(m, z, axis))
    return _row(name, op, OTHER, False, None, shape, behaviour=(None, None))


def _function_row(name, target, args, kwargs, out, dead_tol, method: bool) -> EMRow | None:
    shape = tuple(out.shape) if isinstance(out, torch.Tensor) else ()
    if method:
        label, em_fn = target, EM_METHODS.get(target)
        gate = target in GATE_METHODS
    else:
        entry = EM_FUNCTIONS.get(target)
        label, em_fn = entry if entry else (GATE_FUNCTIONS.get(target), None)
        gate = target in GATE_FUNCTIONS
    z = args[0] if args and isinstance(args[0], torch.Tensor) else None

    def op(x):
        if method:
            return getattr(x, target)(*args[1:], **kwargs)
        return target(x, *args[1:], **kwargs)

    if em_fn is not None:
        r, axis = em_fn(args, kwargs, out)
        ent, dead = _entropy_and_dead(r, axis, dead_tol)
        # attention's alternatives are keys, not the input's features
        same = z is not None and isinstance(out, torch.Tensor) and out.shape == z.shape
        measurable = same and label != "scaled_dot_product_attention"
        behaviour = _behaviour(op, z, axis) if measurable else (None, None)
        return _row(name, label, EM, True, axis, shape, ent, dead, behaviour)
    if gate and z is not None:
        return _gate_row(name, label, op, z, shape, dead_tol)
    return None  # arithmetic, reshapes, indexing: not layers


# ----------------------------------------------------------------------------- walking


class _Tracer(fx.Tracer):
    def __init__(self):
        super().__init__(autowrap_modules=(math, _lse))  # type: ignore[arg-type] # a stub bug

    def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
        return (
            super().is_leaf_module(m, qualname)
            or _is_em_module(m)
            or type(m).__module__.startswith("implicit_em")
            # a custom module without children is judged whole, by its Jacobian
            or not any(True for _ in m.children())
        )


def _with_fx(model, inputs, dead_tol) -> list[EMRow]:
    tracer = _Tracer()
    graph = tracer.trace(model)
    gm = fx.GraphModule(tracer.root, graph)
    rows: list[EMRow] = []

    class Recorder(fx.Interpreter):
        def run_node(self, n):
            out = super().run_node(n)
            if n.op in ("call_module", "call_function", "call_method"):
                args, kwargs = self.fetch_args_kwargs_from_env(n)
                if n.op == "call_module":
                    row = _module_row(
                        n.target, self.module.get_submodule(n.target), args, kwargs, out, dead_tol
                    )
                else:
                    row = _function_row(
                        n.name, n.target, args, kwargs, out, dead_tol, method=n.op == "call_method"
                    )
                if row is not None:
                    rows.append(row)
            return out

    with torch.no_grad():
        Recorder(gm).run(*inputs)
    return rows


def _with_hooks(model, inputs, dead_tol) -> list[EMRow]:
    records = []
    handles = []
    for name, m in model.named_modules():
        leaf = not any(True for _ in m.children())
        if name and (leaf or _is_em_module(m)):

            def hook(mod, args, kwargs, out, name=name):
                records.append((name, mod, args, kwargs, out))

            handles.append(m.register_forward_hook(hook, with_kwargs=True))
    try:
        with torch.no_grad():
            model(*inputs)
    finally:
        for h in handles:
            h.remove()
    rows = []
    for name, mod, args, kwargs, out in records:
        row = _module_row(name, mod, args, kwargs, out, dead_tol)
        if row is not None:
            rows.append(row)
    return rows


def em_structure(
    model: nn.Module,
    example_input: torch.Tensor,
    *,
    head: str | None = None,
    dead_tol: float = 1e-3,
) -> EMStructureMap:
    """Map where implicit EM lives in ``model`` and measure it on ``example_input``.

    Args:
        model: any ``nn.Module`` (evaluated in eval mode, restored afterwards).
        example_input: a tensor, or a tuple of positional inputs.
        head: the loss applied to the model's output, if any: ``"cross_entropy"``
            (responsibilities ``softmax(output)`` over classes) or
            ``"distance_cross_entropy"`` (``softmax(-output)``); adds a ``loss`` row.
        dead_tol: threshold for dead gates (derivative) and dead alternatives
            (responsibility).

    Returns:
        :class:`EMStructureMap`; ``print`` it for a table, ``.to_rows()`` for data.

    Examples:
        >>> net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
        >>> m = em_structure(net, torch.randn(16, 4), head="cross_entropy")
        >>> [(r.op, r.em) for r in m.rows]
        [('Linear', False), ('ReLU', False), ('Linear', False), ('cross_entropy', True)]
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    inputs = example_input if isinstance(example_input, tuple) else (example_input,)
    for t in inputs:
        if isinstance(t, torch.Tensor):
            if t.device.type == "meta":
                raise ValueError("example_input is on the 'meta' device and holds no values")
            if t.ndim == 0 or t.shape[0] == 0:
                raise ValueError(
                    f"example_input needs a batch of at least one sample, got shape "
                    f"{tuple(t.shape)}"
                )
            if t.is_floating_point():
                check_finite(t, "example_input")
    if head not in (None, "cross_entropy", "distance_cross_entropy"):
        raise ValueError(
            f"head must be None, 'cross_entropy' or 'distance_cross_entropy', got {head!r}"
        )
    was_training = model.training
    model.eval()
    notes = []
    try:
        try:
            with torch.no_grad():
                model(*inputs)  # the model must accept the input before it is traced
        except Exception as err:
            raise ValueError(
                f"the model cannot run on example_input ({type(err).__name__}: {err}); pass "
                "an input it accepts (dtype, device and shape of a real batch)"
            ) from err
        try:
            rows, method = _with_fx(model, inputs, dead_tol), "torch.fx"
        except Exception as err:  # fx cannot trace data-dependent control flow
            rows, method = _with_hooks(model, inputs, dead_tol), "forward hooks"
            notes.append(
                f"torch.fx could not trace the model ({type(err).__name__}); with hooks "
                "only modules are visible, not functional ops inside forward()"
            )
        if head is not None:
            with torch.no_grad():
                out = model(*inputs)
            logits = out if head == "cross_entropy" else -out
            r = torch.softmax(logits.float(), -1 if logits.ndim < 3 else 1)
            axis = -1 if logits.ndim < 3 else 1
            ent, dead = _entropy_and_dead(r, axis, dead_tol)
            rows.append(EMRow("loss", head, EM, True, axis, tuple(out.shape), ent, dead))
    finally:
        model.train(was_training)
    return EMStructureMap(rows, method, notes)
