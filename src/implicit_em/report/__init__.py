"""Results -> one self-contained HTML report."""

from .html import build_report

__all__ = ["build_report"]
