"""The claims' verdicts on fixed sweeps logged into a real MLflow store: each verdict type, the size
as a separate answer, and no verdict from training that had not converged."""

from __future__ import annotations

import json

import pytest
from helpers.store import fresh_store, log_sweep

from ablate.report import write_report

SWEPT = ["model.skip", "model.bottleneck", "seed"]
SEEDS = (0, 1, 2, 3, 4)
WOBBLE = (0.004, -0.003, 0.001, -0.002, 0.0)  # per seed, shared by the cells: paired contrasts stay tight


@pytest.fixture
def store(tmp_path_factory, tmp_path):
    return fresh_store(tmp_path_factory, tmp_path)


def jobs(purity: dict[tuple[bool, bool], float], settled: int = 12) -> list[dict]:
    """The 2 x 2 grid, 5 seeds; eval loss falls over 4 epochs, then `settled` flat epochs."""
    out = []
    for i, ((skip, bottleneck), p) in enumerate(sorted(purity.items())):
        for seed in SEEDS:
            final = (8.0 if skip else 30.0) * (1 + WOBBLE[seed])
            curve = [final * 4, final * 2, final * 1.3, final] + [final] * settled
            out.append(
                {
                    "name": f"skip={str(skip).lower()} bottleneck={str(bottleneck).lower()} seed={seed}",
                    "params": {
                        "model.skip": skip,
                        "model.bottleneck": bottleneck,
                        "seed": seed,
                        "task.name": "autoencode",
                        "data.name": "mnist5k",
                        "trainer.epochs": len(curve),
                    },
                    "metrics": {"purity_mean": p + WOBBLE[seed] * (1 + 0.5 * i), "final_eval_loss": final},
                    "history": {"eval_loss": curve},
                }
            )
    return out


def verdicts(store, tmp_path, purity, settled=12) -> dict:
    parent, _ = log_sweep(store, "v", SWEPT, jobs(purity, settled), {"baseline_purity_mean": 0.59}, tmp_path)
    path = write_report(store, parent, tmp_path / "r")
    doc = json.loads((path.parent / "results.json").read_text())
    claims = {c["id"]: c for c in doc["sections"][0]["claims"]}
    return {"text": path.read_text(), **claims}


def test_a_significant_effect_smaller_than_the_reference_is_still_supported(store, tmp_path):
    # the bottleneck without skips: +0.06, where the article found +0.19
    got = verdicts(
        store, tmp_path, {(False, False): 0.60, (False, True): 0.66, (True, False): 0.60, (True, True): 0.40}
    )
    claim = got["bottleneck_clusters"]
    assert claim["verdict"] == "supported", claim["line"]
    assert any("smaller than the article's +0.1875" in s for s in claim["sizes"])
    assert "not supported" not in got["text"]


def test_an_opposite_effect_is_contradicted(store, tmp_path):
    got = verdicts(
        store, tmp_path, {(False, False): 0.66, (False, True): 0.56, (True, False): 0.60, (True, True): 0.40}
    )
    assert got["bottleneck_clusters"]["verdict"] == "contradicted", got["bottleneck_clusters"]["line"]


def test_an_effect_within_its_margin_is_no_effect(store, tmp_path):
    # the bottleneck without skips changes purity by 0.001: within the declared margin (0.02)
    got = verdicts(
        store, tmp_path, {(False, False): 0.60, (False, True): 0.601, (True, False): 0.60, (True, True): 0.40}
    )
    claim = got["bottleneck_clusters"]
    assert claim["verdict"] == "no effect" and "within ±0.0200" in claim["line"], claim["line"]


def test_unconverged_training_gives_no_verdict(store, tmp_path):
    got = verdicts(
        store, tmp_path, {(False, False): 0.51, (False, True): 0.70, (True, False): 0.52, (True, True): 0.38}, settled=0
    )
    assert {got[c]["verdict"] for c in ("skips_train_faster", "bottleneck_clusters", "skips_destroy_latent")} == {
        "provisional (not converged)"
    }
    assert got["bottleneck_clusters"]["decided"] == "supported"  # what the intervals say, withheld
    summary = got["text"].split("## autoencode")[0]
    first = summary.split("\n- ")[1]
    assert first.startswith("⚠ **not converged: claims 1, 2, 3 are provisional")
    assert "trainer.stop=converged trainer.epochs=100" in first
    for word in ("**supported**", "**contradicted**", "not supported"):
        assert word not in summary
