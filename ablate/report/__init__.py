"""Reports: MLflow -> pandas -> statistics -> markdown + CSV + PNG. Only this package renders markdown."""

from __future__ import annotations

from typing import Any

__all__ = ["write_report"]


def __getattr__(name: str) -> Any:
    # imported on first use: ablate.report.markdown alone (the benchmarks' tables) needs no MLflow
    if name == "write_report":
        from ablate.report.build import write_report

        return write_report
    raise AttributeError(name)
