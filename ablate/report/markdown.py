"""Markdown tables, the one place they are drawn: the report's sections and reports/benchmarks.md."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def table(header: Iterable[Any], rows: Iterable[Iterable[Any]]) -> list[str]:
    """The lines of a markdown table: the header, its separator, one line per row; every cell is str()'d."""
    header = [str(cell) for cell in header]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
