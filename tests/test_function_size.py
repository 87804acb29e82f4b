"""Every library function reads in one sitting: its body (docstring excluded) is at most
80 lines. ``make lint`` also bounds statements (ruff PLR0915, 60)."""

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "implicit_em"
LIMIT = 80


def body_lines(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """Lines from the first statement after the docstring to the end of the function."""
    body = fn.body
    has_doc = (isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
               and isinstance(body[0].value.value, str))  # fmt: skip
    first = body[1] if has_doc and len(body) > 1 else body[0]
    return fn.end_lineno - first.lineno + 1


def test_the_measure_counts_the_body_only():
    fn = ast.parse('def f():\n    """Doc.\n\n    More."""\n    a = 1\n    return a\n').body[0]
    assert body_lines(fn) == 2


def test_no_library_function_is_longer_than_the_limit():
    long = []
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = body_lines(node)
                if n > LIMIT:
                    long.append(f"{path.relative_to(SRC)}:{node.lineno} {node.name} ({n} lines)")
    assert not long, long
