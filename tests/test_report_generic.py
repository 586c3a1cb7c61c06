"""A user's own grid gets the same tables and effects: nothing but the article column and the
claims knows skip and bottleneck. Here trainer.lr x model.bottleneck x 2 seeds on two datasets
(data is a group: one section each), one of them unlabelled with image-quality metrics."""

from __future__ import annotations

import json
import re

import pytest
from helpers.store import check_golden, fresh_store, log_sweep

from ablate.report import write_report

SWEPT = ["trainer.lr", "model.bottleneck", "seed", "data"]


@pytest.fixture
def store(tmp_path_factory, tmp_path):
    return fresh_store(tmp_path_factory, tmp_path)


def generic_jobs() -> list[dict]:
    jobs = []
    for data in ("mnist5k", "photos"):
        for i, (lr, bottleneck) in enumerate([(0.001, False), (0.001, True), (0.003, False), (0.003, True)]):
            for seed in (0, 1):
                wobble = (0.003, -0.002)[seed] * (1 + i) + 0.001 * ((0, 1, 0, 3), (0, 2, 1, 0))[seed][i]
                loss = 20.0 - 3000 * lr + 8 * bottleneck + wobble * 100
                metrics = {"final_eval_loss": loss, "final_train_loss": loss * 0.9, "n_params": 1000 + 500 * i}
                metrics["train_seconds"] = 5.0 + i
                metrics["epoch_cost_s"] = 0.25 + 0.05 * i
                if data == "mnist5k":
                    p = 0.55 + 0.1 * bottleneck + 10 * lr + wobble
                    metrics |= {"purity_mean": p, "purity_std": 0.001, "nmi_mean": p - 0.1, "ari_mean": p - 0.2}
                    metrics["latent_dim"] = 16 if bottleneck else 784
                else:
                    metrics |= {"psnr": 20 + 1000 * lr - 2 * bottleneck + wobble, "ssim": 0.7 + wobble}
                history = {"eval_loss": [2 * loss, 1.3 * loss, loss]}
                if data == "photos":
                    history |= {"psnr": [metrics["psnr"] - 4, metrics["psnr"] - 1, metrics["psnr"]]}
                jobs.append(
                    {
                        "name": f"lr={lr} bottleneck={str(bottleneck).lower()} seed={seed} data={data}",
                        "params": {
                            "trainer.lr": lr,
                            "model.bottleneck": bottleneck,
                            "seed": seed,
                            "data": data,  # the override key; the param is data.name
                            "data.name": data,
                            "task.name": "autoencode",
                        },
                        "metrics": metrics,
                        "history": history,
                        "progress": [1, 3] if seed == 0 else [],
                    }
                )
    return jobs


def test_generic_grid_gets_the_same_tables_and_effects(store, tmp_path):
    jobs = generic_jobs()
    for job in jobs:  # data=... is the override; MLflow has data.name
        job["params"].pop("data")
    baseline = {"baseline_purity_mean_mnist5k": 0.59, "baseline_purity_std_mnist5k": 0.002}
    parent, ids = log_sweep(store, "lr_study", SWEPT, jobs, baseline, tmp_path)
    path = write_report(store, parent, tmp_path / "r")
    check_golden(path.parent, parent, ids, "generic")
    text = path.read_text()
    assert "## autoencode on mnist5k" in text and "## autoencode on photos" in text
    assert "| trainer.lr | model.bottleneck | purity mean | 95% CI |" in text
    assert "article purity" not in text and "Claim" not in text  # the article's names only
    assert "trainer.lr: 0.003 − 0.001" in text and "trainer.lr × model.bottleneck" in text
    assert (
        "| trainer.lr | model.bottleneck | final train loss | final eval loss | eval loss, epoch 1 | eval-loss AUC "
        "| PSNR (dB) | SSIM |" in text
    )
    assert "![psnr](psnr_autoencode_photos.png)" in text
    for link in re.findall(r"\]\(([^)]+)\)", text):
        assert (path.parent / link).is_file(), link
    doc = json.loads((path.parent / "results.json").read_text())
    assert doc["factors"] == ["trainer.lr", "model.bottleneck"]
    photos = doc["sections"][1]
    assert photos["data"] == "photos" and {e["metric"] for e in photos["effects"]} >= {"psnr", "ssim"}
    assert all(e["test"] == "paired t" for e in photos["effects"])


def test_three_level_factor_gets_pairwise_comparisons():
    import pandas as pd

    from ablate.report.designs import estimate
    from ablate.report.effects import grid

    rows = pd.DataFrame(
        [
            {"run_id": f"{lr}-{seed}", "status": "FINISHED", "trainer.lr": lr, "seed": str(seed), "loss": v}
            for lr, base in (("1e-3", 10.0), ("3e-3", 8.0), ("0.01", 9.0))
            for seed, v in ((0, base), (1, base + 0.5 * base / 10), (2, base - 0.2 * base / 9))
        ]
    )
    g = grid(rows, ["trainer.lr"])
    assert g.levels["trainer.lr"] == ["1e-3", "3e-3", "0.01"]  # by value, not as text
    found = estimate(g, ["loss"], None, None)  # no design recorded: every pair of levels
    assert [e.label for e in found] == [
        "trainer.lr: 3e-3 − 1e-3",
        "trainer.lr: 0.01 − 1e-3",
        "trainer.lr: 0.01 − 3e-3",
    ]
    per_seed = [(8.0 + d8) - (10.0 + d10) for d8, d10 in ((0, 0), (0.4, 0.5), (-0.2 * 8 / 9, -0.2 * 10 / 9))]
    assert found[0].test.estimate == pytest.approx(sum(per_seed) / 3)
    assert all(e.test.kind == "paired t" for e in found)
    assert all(e.test.p_holm >= e.test.p for e in found)
