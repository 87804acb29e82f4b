r"""``build(spec)``: a network from a compact spec such as ``"784-256:iem(infomax)-64:solu-10"``.

Widths are joined by ``-``; the first is the input. Each later width may carry a layer
kind after ``:``:

=====================================  =============================================
``256``                                ``nn.Linear`` (the last token: the output head)
``256:relu`` / ``:tanh`` / ``:gelu``   ``nn.Linear`` + that standard activation
``256:solu`` (any registered name)     :class:`CompetitiveLinear` for competitive ones,
                                       ``nn.Linear`` + the activation otherwise
``256:iem`` / ``256:iem(ARGS)``        :class:`ImplicitEMLayer`; ``ARGS`` are volume
                                       controls joined by ``+`` (default: the layer's,
                                       ``infomax``; ``none`` for none)
                                       and ``key=value`` options separated by ``,``:
                                       ``distance``, ``output``, ``T``, ``lse``
=====================================  =============================================

Example: ``"784-256:iem(infomax+balance,distance=euclidean,output=gated)-10"``.
"""

from __future__ import annotations

import re
from typing import Any

from torch import nn

from ..activations import ACTIVATIONS, make_activation
from .competitive_linear import CompetitiveLinear
from .implicit_em_layer import ImplicitEMLayer

STANDARD = {"relu": nn.ReLU, "tanh": nn.Tanh, "gelu": nn.GELU, "sigmoid": nn.Sigmoid}
_TOKEN = re.compile(r"^(\d+)(?::([a-z_][a-z0-9_.]*)(?:\((.*)\))?)?$")


def _iem(d_in: int, width: int, args: str | None, token: str) -> ImplicitEMLayer:
    kwargs: dict[str, Any] = {}
    controls: list[str] = []
    none = False
    for part in (args or "").split(","):
        part = part.strip()
        if not part:
            continue
        if "=" in part:
            key, value = (s.strip() for s in part.split("=", 1))
            if key in ("distance", "output"):
                kwargs[key] = value
            elif key in ("T", "lse"):
                try:
                    kwargs["temperature" if key == "T" else "lse_weight"] = float(value)
                except ValueError:
                    raise ValueError(f"{token!r}: {key}={value!r} is not a number") from None
            else:
                raise ValueError(
                    f"{token!r}: unknown option {key!r}; use distance, output, T or lse"
                )
        elif part == "none":
            none = True
        else:
            controls.append(part)
    if controls or none:
        kwargs["objective"] = "+".join(controls) or None
    try:
        return ImplicitEMLayer(d_in, width, **kwargs)
    except ValueError as err:
        raise ValueError(f"{token!r}: {err}") from None


def build(spec: str) -> nn.Sequential:
    """The network described by ``spec`` (see the module docstring).

    Raises:
        ValueError: a token that does not parse, naming it.

    Examples:
        >>> build("4-8:iem(infomax)-6:solu-3")
        Sequential(
          (0): ImplicitEMLayer(4, 8, distance='euclidean', output='triangle', objective='infomax', lse_weight=1)
          (1): CompetitiveLinear(
            (0): Linear(in_features=8, out_features=6, bias=True)
            (1): SoLU(dim=-1, temperature=1)
          )
          (2): Linear(in_features=6, out_features=3, bias=True)
        )
    """  # noqa: E501
    if not isinstance(spec, str) or not spec.strip():
        raise ValueError(f"spec must be a non-empty string like '784-256:iem-10', got {spec!r}")
    tokens = [t.strip() for t in re.split(r"-(?![^(]*\))", spec.strip())]
    if len(tokens) < 2:
        raise ValueError(f"spec {spec!r} needs an input width and at least one layer")
    if not tokens[0].isdigit() or int(tokens[0]) < 1:
        raise ValueError(f"{tokens[0]!r}: the first token is the input width, a number >= 1")
    layers: list[nn.Module] = []
    d_in = int(tokens[0])
    for token in tokens[1:]:
        m = _TOKEN.match(token)
        if m is None or int(m.group(1)) < 1:
            raise ValueError(
                f"{token!r} does not parse: expected WIDTH, WIDTH:ACTIVATION or WIDTH:iem(...)"
            )
        width, kind, args = int(m.group(1)), m.group(2), m.group(3)
        if args is not None and kind != "iem":
            raise ValueError(f"{token!r}: only iem(...) takes arguments")
        if kind is None:
            layers.append(nn.Linear(d_in, width))
        elif kind == "iem":
            layers.append(_iem(d_in, width, args, token))
        elif kind in STANDARD:
            layers += [nn.Linear(d_in, width), STANDARD[kind]()]
        elif kind in ACTIVATIONS and ACTIVATIONS[kind].kind == "competitive":
            try:
                layers.append(CompetitiveLinear(d_in, width, kind))
            except ValueError as err:
                raise ValueError(f"{token!r}: {err}") from None
        elif kind in ACTIVATIONS:
            layers += [nn.Linear(d_in, width), make_activation(kind)]
        else:
            raise ValueError(
                f"{token!r}: unknown layer kind {kind!r}; use iem, "
                f"{', '.join(STANDARD)} or a registered activation ({', '.join(ACTIVATIONS)})"
            )
        d_in = width
    return nn.Sequential(*layers)
