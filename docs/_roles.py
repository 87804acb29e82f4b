"""Griffe extension for the API pages: Sphinx roles in docstrings become links.

Docstrings cross-reference with Sphinx roles (``:class:`ImplicitEMLayer```,
``:func:`~implicit_em.lse.lse_loss```), which MkDocs would show raw. Each role becomes an
autorefs link to the object's API entry (``<autoref identifier=full.path optional>``, plain
code when the pages do not render that object; the test keeps every target an object of
the package): a full path as it is; a
short or partial name resolved to the object whose path ends with it, preferring the one
nearest the docstring's own module. A role naming something outside the package (torch,
scikit-learn) becomes plain code. :func:`raw_roles` lists what is left, for the test that
keeps it empty.
"""

from __future__ import annotations

import re

import griffe

ROLE = re.compile(r":(?:class|func|meth|mod|data|attr|exc|obj):`(~?)([\w.]+?)(\(\))?`")
ANY_ROLE = re.compile(r":[a-z]+:`")


def _objects(obj: griffe.Object):
    yield obj
    for member in obj.members.values():
        if not member.is_alias:
            yield from _objects(member)


def _paths(pkg: griffe.Module) -> list[str]:
    """Every object's path, and every re-export's (``implicit_em.layers.ImplicitEMLayer``)."""
    out = []
    for obj in _objects(pkg):
        out.append(obj.path)
        out += [m.path for m in obj.members.values() if m.is_alias]
    return out


def resolve(target: str, here: str, paths: list[str]) -> str | None:
    """The full path ``target`` names, seen from the object at ``here``."""
    target = target.lstrip(".")
    if target in paths:
        return target
    matches = [p for p in paths if p.endswith("." + target)]
    if not matches:
        return None

    def shared(p: str) -> int:  # length of the common dotted prefix with ``here``
        n = 0
        for a, b in zip(p.split("."), here.split("."), strict=False):
            if a != b:
                break
            n += 1
        return n

    return max(matches, key=lambda p: (shared(p), -len(p)))


def rewrite(text: str, here: str, paths: list[str]) -> str:
    """``text`` with every Sphinx role replaced by an autorefs link (or plain code)."""

    def link(m: re.Match) -> str:
        tilde, target, call = m.groups()
        shown = (target.rsplit(".", 1)[-1] if tilde else target.lstrip(".")) + (call or "")
        path = resolve(target, here, paths)
        if path is None:
            return f"`{shown}`"
        # optional: an object the API pages do not render (a private module, a constant)
        # shows as plain code instead of failing the build
        return f'<autoref identifier="{path}" optional><code>{shown}</code></autoref>'

    return ROLE.sub(link, text)


def raw_roles(pkg: griffe.Module) -> list[str]:
    """``"path: role..."`` for every role a docstring still holds after :func:`rewrite`."""
    paths = _paths(pkg)
    left = []
    for obj in _objects(pkg):
        if obj.docstring is None:
            continue
        text = rewrite(obj.docstring.value, obj.path, paths)
        left += [f"{obj.path}: {m.group(0)}" for m in ANY_ROLE.finditer(text)]
    return left


class SphinxRoles(griffe.Extension):
    """Rewrite every docstring of the package once it is loaded."""

    def on_package(self, *, pkg: griffe.Module, **kwargs) -> None:
        paths = _paths(pkg)
        for obj in _objects(pkg):
            if obj.docstring is not None:
                obj.docstring.value = rewrite(obj.docstring.value, obj.path, paths)
