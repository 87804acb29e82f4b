r"""Stacks described once, typed: :class:`StackSpec` (a tuple of :class:`LayerSpec`, an
implicit-EM layer's settings in :class:`IEMSpec`), parsed from a compact string such as
``"784-256:iem(infomax)-64:solu-10"`` and built with :meth:`StackSpec.build`.

Widths are joined by ``-``; the first is the input. Each later width may carry a layer
kind after ``:``:

=====================================  =============================================
``256``                                ``nn.Linear`` (the last token: the output head)
``256:relu`` / ``:tanh`` / ``:gelu``   ``nn.Linear`` + that standard activation
``256:solu`` (any registered name)     :class:`CompetitiveLinear` for competitive ones,
                                       ``nn.Linear`` + the activation otherwise
``256:iem`` / ``256:iem(ARGS)``        :class:`ImplicitEMLayer`; ``ARGS`` are volume
                                       controls joined by ``+``, each optionally
                                       weighted (``infomax*0.1``; default: the layer's,
                                       ``balance``; ``none`` for none) and
                                       ``key=value`` options separated by ``,``:
                                       ``distance``, ``output``, ``T``, ``rel_T``
                                       (``relative_temperature``), ``learn_T``,
                                       ``lse``, ``weight_norm``, ``input_norm``,
                                       ``init``
``96:iemconv(ARGS)``                   :class:`ImplicitEMConv2d` with 96 channels (the
                                       widths before it are channels too); ``ARGS`` as
                                       ``iem``'s plus ``k`` (kernel side, 3),
                                       ``stride``, ``pad``, ``pool`` (``max2``,
                                       ``avg2`` or ``max4/2/1``: size/stride/padding),
                                       ``patch_norm`` and ``whiten`` (an ``eps``;
                                       ``0``: off)
=====================================  =============================================

Example: ``"784-256:iem(infomax*0.5+balance,distance=linear,weight_norm=1)-10"``. After
conv layers only a plain ``WIDTH`` head may follow (flattened, an ``nn.LazyLinear``):
``"1-16:iemconv(k=3,pad=1,pool=max2)-32:iemconv(k=3,pool=max2)-10"``.
``str(StackSpec.parse(s))`` gives the spec back in a canonical form.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

from torch import nn

from ..activations import ACTIVATIONS, make_activation
from .competitive_linear import CompetitiveLinear
from .implicit_em_conv2d import ImplicitEMConv2d
from .implicit_em_layer import ImplicitEMLayer
from .pool import check_pool

STANDARD = {"relu": nn.ReLU, "tanh": nn.Tanh, "gelu": nn.GELU, "sigmoid": nn.Sigmoid}
_TOKEN = re.compile(r"^(\d+)(?::([a-z_][a-z0-9_.]*)(?:\((.*)\))?)?$")


@dataclass(frozen=True)
class IEMSpec:
    """The settings of one :class:`ImplicitEMLayer`; ``None`` fields keep the layer's
    defaults. ``objective``: ``{name: weight}``, ``{}`` for no volume control;
    ``input_norm``: ``"scale"``, ``"sample"``, ``"batch"`` or ``"none"``."""

    distance: str | None = None
    output: str | None = None
    temperature: float | None = None
    relative_temperature: float | None = None
    learn_temperature: bool | None = None
    objective: dict[str, float] | None = None
    lse_weight: float | None = None
    weight_norm: bool | None = None
    input_norm: str | None = None
    init: str | None = None

    def kwargs(self) -> dict:
        """The keyword arguments for :class:`ImplicitEMLayer` (defaults left out)."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        out = {k: v for k, v in out.items() if v is not None}
        if out.get("input_norm") == "none":
            out["input_norm"] = None
        if "objective" in out:
            out["objective"] = dict(out["objective"]) or None
        return out


@dataclass(frozen=True)
class ConvSpec:
    """The patch geometry of one :class:`ImplicitEMConv2d`: ``kernel_size``, ``stride``,
    ``padding``, ``pool`` (``None`` or ``(kind, size, stride, padding)``), and what its
    patches go through: ``patch_norm`` and ``whiten`` (their ``eps``, ``0`` for off;
    ``None`` keeps the layer's default)."""

    kernel_size: int = 3
    stride: int = 1
    padding: int = 0
    pool: tuple | None = None
    patch_norm: float | None = None
    whiten: float | None = None

    def __post_init__(self) -> None:  # (kind, size) is stored as (kind, size, size, 0)
        object.__setattr__(self, "pool", check_pool(self.pool))


@dataclass(frozen=True)
class LayerSpec:
    """One layer: ``width`` and ``kind`` (``None``: ``nn.Linear``; ``"iem"``;
    ``"iemconv"``; a standard or registered activation); ``iem`` holds an implicit-EM
    layer's settings, ``conv`` a convolutional one's geometry."""

    width: int
    kind: str | None = None
    iem: IEMSpec | None = None
    conv: ConvSpec | None = None


@dataclass(frozen=True)
class StackSpec:
    """A network: the input width and its layers, in order.

    Examples:
        >>> spec = StackSpec.parse("6-4:iem(infomax*0.5,distance=linear)-3")
        >>> spec.layers[0].iem.objective, spec.layers[0].iem.distance
        ({'infomax': 0.5}, 'linear')
        >>> str(spec)
        '6-4:iem(infomax*0.5,distance=linear)-3'
        >>> spec.build()[0].distance
        'linear'
    """

    in_features: int
    layers: tuple[LayerSpec, ...]

    @classmethod
    def parse(cls, spec: str) -> StackSpec:
        """The stack a spec string describes (see the module); a ``ValueError`` names the
        token that does not parse."""
        if not isinstance(spec, str) or not spec.strip():
            raise ValueError(f"spec must be a non-empty string like '784-256:iem-10', got {spec!r}")
        tokens = [t.strip() for t in re.split(r"-(?![^(]*\))", spec.strip())]
        if len(tokens) < 2:
            raise ValueError(f"spec {spec!r} needs an input width and at least one layer")
        if not tokens[0].isdigit() or int(tokens[0]) < 1:
            raise ValueError(f"{tokens[0]!r}: the first token is the input width, a number >= 1")
        layers = []
        for token in tokens[1:]:
            m = _TOKEN.match(token)
            if m is None or int(m.group(1)) < 1:
                raise ValueError(
                    f"{token!r} does not parse: expected WIDTH, WIDTH:ACTIVATION or WIDTH:iem(...)"
                )
            width, kind, args = int(m.group(1)), m.group(2), m.group(3)
            if args is not None and kind not in ("iem", "iemconv"):
                raise ValueError(f"{token!r}: only iem(...) and iemconv(...) take arguments")
            conv = None
            if kind == "iemconv":
                conv, args = _parse_conv(args, token)
            iem = _parse_iem(args, token) if kind in ("iem", "iemconv") else None
            layers.append(LayerSpec(width, kind, iem, conv))
        return cls(int(tokens[0]), tuple(layers))

    def build(self) -> nn.Sequential:
        """The ``nn.Sequential`` this describes; a ``ValueError`` names the bad layer."""
        modules: list[nn.Module] = []
        d_in, convs = self.in_features, False
        for layer in self.layers:
            token = _token(layer)
            width, kind = layer.width, layer.kind
            try:
                if kind == "iemconv":
                    if modules and not convs:
                        raise ValueError("a conv layer must come before every dense one")
                    modules.append(_conv(d_in, layer))
                    convs = True
                elif convs:
                    if kind is not None:
                        raise ValueError("after conv layers only a plain WIDTH head may follow")
                    modules += [nn.Flatten(), nn.LazyLinear(width)]
                    convs = False
                elif kind is None:
                    modules.append(nn.Linear(d_in, width))
                elif kind == "iem":
                    modules.append(
                        ImplicitEMLayer(d_in, width, **(layer.iem or IEMSpec()).kwargs())
                    )
                elif kind in STANDARD:
                    modules += [nn.Linear(d_in, width), STANDARD[kind]()]
                elif kind in ACTIVATIONS and ACTIVATIONS[kind].kind == "competitive":
                    modules.append(CompetitiveLinear(d_in, width, kind))
                elif kind in ACTIVATIONS:
                    modules += [nn.Linear(d_in, width), make_activation(kind)]
                else:
                    raise ValueError(
                        f"unknown layer kind {kind!r}; use iem, {', '.join(STANDARD)} or a "
                        f"registered activation ({', '.join(ACTIVATIONS)})"
                    )
            except ValueError as err:
                raise ValueError(f"{token!r}: {err}") from None
            d_in = width
        return nn.Sequential(*modules)

    def __str__(self) -> str:
        return "-".join([str(self.in_features), *(_token(layer) for layer in self.layers)])


_KEYS = {"distance": "distance", "output": "output", "T": "temperature",
         "rel_T": "relative_temperature",
         "learn_T": "learn_temperature", "lse": "lse_weight", "weight_norm": "weight_norm",
         "input_norm": "input_norm", "init": "init"}  # fmt: skip
_FLOAT = {"temperature", "relative_temperature", "lse_weight"}
_BOOL = {"learn_temperature", "weight_norm"}


def _conv(d_in: int, layer: LayerSpec) -> ImplicitEMConv2d:
    conv, settings = layer.conv or ConvSpec(), (layer.iem or IEMSpec()).kwargs()
    norm = settings.pop("input_norm", None)
    patches = {n: getattr(conv, n) or False for n in _CONV_FLOAT if getattr(conv, n) is not None}
    return ImplicitEMConv2d(d_in, layer.width, conv.kernel_size, stride=conv.stride,
                            padding=conv.padding, pool=conv.pool, input_norm=norm,
                            **patches, **settings)  # fmt: skip


_CONV_KEYS = {"k": "kernel_size", "stride": "stride", "pad": "padding", "pool": "pool",
              "patch_norm": "patch_norm", "whiten": "whiten"}  # fmt: skip
_CONV_FLOAT = ("patch_norm", "whiten")
_POOL = re.compile(r"^(max|avg)(\d+)(?:/(\d+)/(\d+))?$")


def _once(key: str, values: dict, keys: dict, token: str) -> None:
    """A key given twice in one token is refused (the last would win unseen)."""
    if key in keys and keys[key] in values:
        raise ValueError(f"{token!r}: {key}= is given twice; keep one")


def _parse_conv(args: str | None, token: str) -> tuple[ConvSpec, str]:
    """The conv keys of ``args`` as a :class:`ConvSpec`, and the rest (for ``iem``)."""
    values: dict = {}
    rest = []
    for part in (args or "").split(","):
        key, _, value = (s.strip() for s in part.partition("="))
        _once(key, values, _CONV_KEYS, token)
        if key not in _CONV_KEYS:
            rest.append(part)
        elif key == "pool":
            m = _POOL.match(value)
            if m is None:
                raise ValueError(f"{token!r}: pool={value!r}: use max2, avg2 or max4/2/1")
            size = int(m.group(2))
            stride, pad = (int(m.group(3)), int(m.group(4))) if m.group(3) else (size, 0)
            values["pool"] = (m.group(1), size, stride, pad)
        elif key in _CONV_FLOAT:
            try:
                values[key] = float(value)
            except ValueError:
                raise ValueError(f"{token!r}: {key}={value!r} is not a number (0: off)") from None
            if not values[key] >= 0:
                raise ValueError(f"{token!r}: {key}={value!r} must be >= 0 (0: off)")
        elif not value.isdigit():
            raise ValueError(f"{token!r}: {key}={value!r} is not a whole number")
        else:
            values[_CONV_KEYS[key]] = int(value)
    return ConvSpec(**values), ",".join(rest)


def _parse_iem(args: str | None, token: str) -> IEMSpec:
    values: dict = {}
    objective: dict[str, float] | None = None
    none_given = False
    for part in (args or "").split(","):
        part = part.strip()
        if not part:
            continue
        if "=" in part:
            key, value = (s.strip() for s in part.split("=", 1))
            if key not in _KEYS:
                raise ValueError(f"{token!r}: unknown option {key!r}; use {', '.join(_KEYS)}")
            name = _KEYS[key]
            _once(key, values, _KEYS, token)
            if name in _FLOAT:
                try:
                    values[name] = float(value)
                except ValueError:
                    raise ValueError(f"{token!r}: {key}={value!r} is not a number") from None
            elif name in _BOOL:
                if value not in ("0", "1", "true", "false"):
                    raise ValueError(f"{token!r}: {key}={value!r}: use 1 or 0")
                values[name] = value in ("1", "true")
            else:
                values[name] = value
        elif part == "none":
            if objective is not None:
                raise ValueError(f"{token!r}: 'none' with other objective terms; give one")
            objective = {}
            none_given = True
        else:
            if none_given:
                raise ValueError(f"{token!r}: 'none' with other objective terms; give one")
            objective = {} if objective is None else objective
            for term in part.split("+"):
                name, _, weight = term.strip().partition("*")
                if name.strip() in objective:
                    raise ValueError(f"{token!r}: the term {name.strip()!r} is given twice")
                try:
                    objective[name.strip()] = float(weight) if weight else 1.0
                except ValueError:
                    raise ValueError(f"{token!r}: weight {weight!r} is not a number") from None
    return IEMSpec(objective=objective, **values)


def _token(layer: LayerSpec) -> str:
    if layer.kind is None:
        return str(layer.width)
    parts = []
    if layer.kind == "iemconv":
        conv, d = layer.conv or ConvSpec(), ConvSpec()
        parts.append(f"k={conv.kernel_size}")
        parts += [f"stride={conv.stride}"] * (conv.stride != d.stride)
        parts += [f"pad={conv.padding}"] * (conv.padding != d.padding)
        if conv.pool is not None:
            kind, size, stride, pad = conv.pool
            more = f"/{stride}/{pad}" if (stride, pad) != (size, 0) else ""
            parts.append(f"pool={kind}{size}{more}")
        parts += [f"{n}={getattr(conv, n):g}" for n in _CONV_FLOAT if getattr(conv, n) is not None]
    elif layer.kind != "iem" or layer.iem is None or layer.iem == IEMSpec():
        return f"{layer.width}:{layer.kind}"
    iem = layer.iem or IEMSpec()
    if iem.objective is not None:
        terms = [n if w == 1 else f"{n}*{w:g}" for n, w in iem.objective.items()]
        parts.append("+".join(terms) or "none")
    for key, name in _KEYS.items():
        value = getattr(iem, name)
        if value is not None:
            text = f"{value:g}" if name in _FLOAT else str(int(value)) if name in _BOOL else value
            parts.append(f"{key}={text}")
    return f"{layer.width}:{layer.kind}({','.join(parts)})"


def build(spec: str | StackSpec) -> nn.Sequential:
    """The network described by ``spec`` (a string, see the module, or a
    :class:`StackSpec`).

    Raises:
        ValueError: a token that does not parse, naming it.

    Examples:
        >>> build("4-8:iem(infomax)-6:solu-3")
        Sequential(
          (0): ImplicitEMLayer(
            4, 8, distance='euclidean', output='triangle', objective='infomax', lse_weight=1, T=0.1, input_norm='scale'
            (input_norm): ScaleNorm(scale=unset)
          )
          (1): CompetitiveLinear(
            (0): Linear(in_features=8, out_features=6, bias=True)
            (1): SoLU(dim=-1, temperature=1)
          )
          (2): Linear(in_features=6, out_features=3, bias=True)
        )
    """  # noqa: E501
    return (spec if isinstance(spec, StackSpec) else StackSpec.parse(spec)).build()
