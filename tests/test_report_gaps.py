"""Gaps never break the report: a failed job, a cell that never ran, a cell where all failed."""

from __future__ import annotations

import csv

import pytest
from helpers.store import check_golden, fresh_store, log_sweep
from test_report_golden import BASELINE, article_jobs

from ablate.report import write_report

SWEPT = ["model.skip", "model.bottleneck", "seed"]


@pytest.fixture
def store(tmp_path_factory, tmp_path):
    return fresh_store(tmp_path_factory, tmp_path)


def test_failed_job_and_missing_cell(store, tmp_path):
    jobs = [j for j in article_jobs(seeds=(0, 1)) if not j["name"].startswith("skip=true bottleneck=false")]
    failed = next(j for j in jobs if j["name"] == "skip=false bottleneck=true seed=1")
    # failed before logging anything: the report recovers its cell from the job's overrides
    failed.update(status="FAILED", error="RuntimeError: boom", metrics={}, history={}, progress=[])
    failed["params_logged"] = False
    parent, ids = log_sweep(store, "gaps", SWEPT, jobs, BASELINE, tmp_path)
    path = write_report(store, parent, tmp_path / "r")
    check_golden(path.parent, parent, ids, "gaps")
    text = path.read_text()
    assert "| True | False | missing (0/2) |" in text
    assert "| False | True | 0.7" in text and "| 1/2 |" in text
    assert "- FAILED: `skip=false bottleneck=true seed=1`" in text and "RuntimeError: boom" in text
    assert "model.skip: True − False | — | — | not estimable |" in text
    claims = [line for line in text.splitlines() if line.startswith("- **Claim")]
    assert len(claims) == 3 and all("**inconclusive**" in line for line in claims)
    rows = list(csv.DictReader((path.parent / "results.csv").open()))
    bad = next(r for r in rows if r["status"] == "FAILED")
    assert (bad["model.skip"], bad["model.bottleneck"], bad["seed"]) == ("False", "True", "1")


def test_cell_with_every_job_failed(store, tmp_path):
    jobs = article_jobs(seeds=(0,))
    jobs[0].update(status="FAILED", error="ValueError: nan loss", metrics={}, history={}, progress=[])
    parent, _ = log_sweep(store, "allfail", SWEPT[:2], jobs, {}, tmp_path)
    text = write_report(store, parent, tmp_path / "r").read_text()
    assert "| False | False | failed (0/1) |" in text and "1 FAILED" in text
    assert "raw pixels" not in text  # no baseline logged: no row


def test_a_sweep_where_nothing_finished_still_reports_its_claims(store, tmp_path):
    """Every job failed (no GPU where one was asked for, say), on a grid of the skips alone: the
    claim the grid can test is inconclusive at n = 0, and the summary suggests no more seeds."""
    jobs = [j for j in article_jobs(seeds=(0,)) if "bottleneck=false" in j["name"]]
    for job in jobs:
        job.update(status="FAILED", error="RuntimeError: no CUDA device", metrics={}, history={}, progress=[])
        del job["params"]["model.bottleneck"]
    parent, _ = log_sweep(store, "nothing", ["model.skip"], jobs, {}, tmp_path)
    text = write_report(store, parent, tmp_path / "r").read_text()
    claims = [line for line in text.splitlines() if line.startswith("- **Claim")]
    assert len(claims) == 1 and "**inconclusive** at n = 0 training seeds" in claims[0], claims
    assert "replicates=10" not in text
