"""Golden-file test of the report: fixed metrics of the article's 2x2 x 3 seeds logged into a real
MLflow store, the report built from the store, compared byte for byte (run ids normalized).

Regenerate the goldens after an intended change: ABLATE_UPDATE_GOLDEN=1 pytest tests/test_report_golden.py
"""

from __future__ import annotations

import csv
import filecmp
import json
import re

import pytest
from helpers.store import check_golden, fresh_store, log_sweep

from ablate.report import write_report
from ablate.report.__main__ import main as report_cli

SWEPT = ["model.skip", "model.bottleneck", "seed"]
# (skip, bottleneck) -> purity, final eval loss, eval loss after epoch 1: the article's pattern
ARMS = {
    (False, False): (0.51, 30.0, 60.0),
    (False, True): (0.70, 40.0, 70.0),
    (True, False): (0.52, 8.0, 20.0),
    (True, True): (0.38, 10.0, 25.0),
}
NOISE = (0.006, -0.004, 0.001)


def article_jobs(seeds=(0, 1, 2), epochs: int = 5, settled: int = 0) -> list[dict]:
    """`settled`: epochs more at the final loss after the descent (10 or more: converged by the rule)."""
    jobs = []
    for i, ((skip, bottleneck), (purity, loss, first)) in enumerate(sorted(ARMS.items())):
        for seed in seeds:
            noise = NOISE[seed % 3] * (1 + 0.3 * i) + 0.001 * ((seed * (i + 1)) % 3 - 1)
            final, start = loss * (1 + 2 * noise), first * (1 - noise)
            curve = [start * (final / start) ** (e / (epochs - 1)) for e in range(epochs)] + [final] * settled
            p = purity + noise
            jobs.append(
                {
                    "name": f"skip={str(skip).lower()} bottleneck={str(bottleneck).lower()} seed={seed}",
                    "params": {
                        "model.skip": skip,
                        "model.bottleneck": bottleneck,
                        "seed": seed,
                        "task.name": "autoencode",
                        "data.name": "mnist5k",
                        "trainer.epochs": epochs + settled,
                    },
                    "metrics": {
                        "purity_mean": p,
                        "purity_std": 0.0004 + 0.0001 * i,
                        "nmi_mean": p - 0.1,
                        "ari_mean": p - 0.2,
                        "latent_dim": 16 if bottleneck else 784,
                        "n_params": 5000 + 1000 * skip + 20000 * bottleneck,
                        "train_seconds": 10.0 + i + 0.1 * seed,
                        "epoch_cost_s": 0.5 + 0.1 * i + 0.01 * seed,
                        "final_train_loss": 0.95 * final,
                        "final_eval_loss": final,
                    },
                    "history": {"eval_loss": curve, "train_loss": [0.95 * c for c in curve]},
                    "progress": [1, 3, 5],
                }
            )
    return jobs


BASELINE = {
    "baseline_purity_mean": 0.59,
    "baseline_purity_std": 0.0023,
    "baseline_nmi_mean": 0.5,
    "baseline_ari_mean": 0.4,
    "baseline_latent_dim": 784,
}


@pytest.fixture
def store(tmp_path_factory, tmp_path):
    return fresh_store(tmp_path_factory, tmp_path)


def test_article_study_matches_golden_and_rebuilds_identically(store, tmp_path):
    parent, ids = log_sweep(store, "article", SWEPT, article_jobs(settled=10), BASELINE, tmp_path)
    first = write_report(store, parent, tmp_path / "a")
    check_golden(first.parent, parent, ids, "article")

    # the CLI is the same code: a second build from the store alone gives the same bytes, PNGs included
    code = report_cli(["--tracking-uri", store.uri, "--run-id", parent, "--out", str(tmp_path / "b")])
    assert code == 0
    cmp = filecmp.dircmp(tmp_path / "a", tmp_path / "b")
    assert not cmp.left_only and not cmp.right_only and not cmp.diff_files
    for sub in ("grids",):
        for path in (tmp_path / "a" / sub).rglob("*"):
            if path.is_file():
                assert path.read_bytes() == (tmp_path / "b" / path.relative_to(tmp_path / "a")).read_bytes()
    for png in (tmp_path / "a").glob("*.png"):
        assert png.read_bytes() == (tmp_path / "b" / png.name).read_bytes(), png.name

    text = first.read_text()
    assert "| model.skip | model.bottleneck | purity mean |" in text and "raw pixels" in text
    assert "0.6998 ± 0.0001" in text  # the article's column
    assert str(tmp_path) not in text  # no absolute paths
    for link in re.findall(r"\]\(([^)]+)\)", text):
        assert (first.parent / link).is_file(), link
    # each verdict quotes numbers that are in the effects table
    claims = [line for line in text.splitlines() if line.startswith("- **Claim")]
    assert len(claims) == 3 and all("**supported**" in line for line in claims), claims
    effects = list(csv.DictReader((first.parent / "effects.csv").open()))
    skip_loss = next(
        e for e in effects if e["metric"] == "final_eval_loss" and e["comparison"] == "model.skip: True − False"
    )
    assert skip_loss["test"] == "paired t" and float(skip_loss["p_holm"]) < 0.05 and float(skip_loss["estimate"]) < 0
    doc = json.loads((first.parent / "results.json").read_text())
    assert [c["verdict"] for c in doc["sections"][0]["claims"]] == ["supported"] * 3


def test_unreplicated_study_says_so(store, tmp_path):
    parent, ids = log_sweep(store, "once", SWEPT[:2], article_jobs(seeds=(0,)), BASELINE, tmp_path)
    path = write_report(store, parent, tmp_path / "r")
    check_golden(path.parent, parent, ids, "once")
    text = path.read_text()
    assert "one training run" in text and "n = 1: no training-seed replicates" in text
    assert text.count("**inconclusive**") == 3
    rows = list(csv.DictReader((path.parent / "results.csv").open()))
    assert len(rows) == 4 and all(0 < float(r["purity_mean"]) <= 1 for r in rows)
