"""The API pages render cross-references: every Sphinx role in a docstring resolves to an
object of the package (or to plain code for an outside name), none is left raw."""

import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"


@pytest.fixture(scope="module")
def roles():
    griffe = pytest.importorskip("griffe")  # the docs extras
    sys.path.insert(0, str(DOCS))
    try:
        import _roles
    finally:
        sys.path.remove(str(DOCS))
    return _roles, griffe.load("implicit_em", search_paths=[str(DOCS.parent / "src")])


def test_no_docstring_keeps_a_raw_role(roles):
    module, pkg = roles
    assert module.raw_roles(pkg) == []


def test_every_role_to_our_package_resolves(roles):
    module, pkg = roles
    paths = module._paths(pkg)
    missing = set()
    for obj in module._objects(pkg):
        for m in module.ROLE.finditer(obj.docstring.value if obj.docstring else ""):
            target = m.group(2)
            if module.resolve(target, obj.path, paths) is None and not target.startswith(
                ("torch.", "sklearn.", "numpy.", "scipy.")
            ):
                missing.add(f"{obj.path}: {m.group(0)}")
    assert not missing, sorted(missing)


def test_roles_become_autorefs_links(roles):
    module, _ = roles
    paths = ["implicit_em.layers.ImplicitEMLayer", "implicit_em.lse.lse_loss"]
    text = "See :class:`ImplicitEMLayer` and :func:`~implicit_em.lse.lse_loss`, :func:`torch.exp`."
    assert module.rewrite(text, "implicit_em.layers.spec", paths) == (
        'See <autoref identifier="implicit_em.layers.ImplicitEMLayer" optional>'
        "<code>ImplicitEMLayer</code></autoref> and "
        '<autoref identifier="implicit_em.lse.lse_loss" optional><code>lse_loss</code>'
        "</autoref>, `torch.exp`."
    )
