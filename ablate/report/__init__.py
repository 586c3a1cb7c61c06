"""Reports: MLflow -> pandas -> statistics -> markdown + CSV + PNG. Only this package renders markdown."""

from ablate.report.build import write_report

__all__ = ["write_report"]
