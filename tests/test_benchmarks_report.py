"""The kept speed report is what the renderer makes of the kept raw numbers (no timing here)."""

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REPORTS = ROOT / "reports"


def test_kept_benchmark_report_matches_its_raw_numbers(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT))  # benchmarks/ is a folder of the repository, not of the package
    from benchmarks.report import render

    results = json.loads((REPORTS / "benchmarks.json").read_text())
    assert render(results) == (REPORTS / "benchmarks.md").read_text()
    assert not results["quick"]  # the kept report is a full run, never --quick
