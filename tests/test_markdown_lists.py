"""Hand-wrapped Markdown must not turn a number into a list item: a line that opens with
``N. `` (N > 1) continues a numbered list only when item ``N - 1`` came before it at the
same indentation."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
ITEM = re.compile(r"^(\s*)(\d+)\. ")


def stray_numbers(text: str) -> list[str]:
    """Lines that would render as an accidental numbered list item."""
    seen: set[tuple[int, int]] = set()  # (indentation, number) of items so far
    bad = []
    in_code = False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            in_code = not in_code
        m = None if in_code else ITEM.match(line)
        if m is None:
            continue
        indent, n = len(m.group(1)), int(m.group(2))
        if n != 1 and (indent, n - 1) not in seen:
            bad.append(line)
        seen.add((indent, n))
    return bad


def test_the_check_finds_a_wrapped_number():
    assert stray_numbers("- a point at\n  1024. Published") == ["  1024. Published"]
    assert stray_numbers("1. one\n   more\n2. two\n") == []


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_no_page_turns_a_number_into_a_list(page):
    assert stray_numbers(page.read_text()) == []
