"""Results -> one self-contained HTML report, and the claims table as Markdown."""

from .html import build_report
from .markdown import findings_markdown, write_findings

__all__ = ["build_report", "findings_markdown", "write_findings"]
