"""Every public function and method of the package carries type hints (mypy checks them in
``make lint``); a new public name without them fails here with its location."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "implicit_em"


def _public_functions():
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).parts
        if any(p.startswith("_") and p not in ("__init__.py", "__main__.py") for p in parts):
            continue
        tree = ast.parse(path.read_text())

        yield from ((path, fn) for fn in _walk(tree, True))


def _walk(node, public):
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.ClassDef):
            yield from _walk(child, public and not child.name.startswith("_"))
        elif (
            isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            and public
            and (not child.name.startswith("_") or child.name == "__init__")
        ):
            yield child


def test_every_public_parameter_and_return_is_annotated():
    missing = []
    for path, fn in _public_functions():
        a = fn.args
        params = a.posonlyargs + a.args + a.kwonlyargs + [p for p in (a.vararg, a.kwarg) if p]
        for i, p in enumerate(params):
            first_self = i == 0 and p.arg in ("self", "cls") and p in a.posonlyargs + a.args
            if p.annotation is None and not first_self:
                missing.append(f"{path.relative_to(PACKAGE)}:{fn.lineno} {fn.name}({p.arg})")
        if fn.returns is None and fn.name != "__init__":
            missing.append(f"{path.relative_to(PACKAGE)}:{fn.lineno} {fn.name} -> ?")
    assert not missing, "add type hints:\n" + "\n".join(missing)
