"""Designs end to end, on tiny data: the U-Net's four components (skip, bottleneck, optimizer, middle
width) as a full 2^4 grid, then as its 2^(4-1) resolution IV fraction and as a leave-one-out study
over the same seeds. The fraction's and the leave-one-out's runs are the grid's (same fingerprints:
reused, not retrained), so their estimates must equal what the alias structure predicts from the
grid's runs, exactly (up to float rounding)."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import pytest

from ablate.config.design import LETTERS
from ablate.report.analysis import analyze
from ablate.report.collect import collect
from ablate.tracking.store import Tracker

pytestmark = pytest.mark.slow  # three real sweeps (32 runs trained once)

COMPONENTS = ["model.skip=true,false", "model.bottleneck=true,false", "trainer.optimizer=adam,sgd", "model.middle=16,8"]
TINY = [
    "data.limit=300",
    "trainer.epochs=1",
    "trainer.batch_size=100",
    "trainer.progress=false",
    "trainer.snapshots=1",
    "eval.kmeans_seeds=2",
    "eval.n_init=1",
    "replicates=2",
    "claims=none",
    "tracking.experiment=designs",
    "hydra/job_logging=disabled",
]
METRICS = ("final_eval_loss", "purity_mean")


def _parents(tracker: Tracker) -> dict[str, str]:
    experiment = tracker.client.get_experiment_by_name("designs").experiment_id
    runs = tracker.search(experiment, tags={"ablate.kind": "sweep"})
    return {r["tags"]["ablate.design"].split(":")[0].split()[0]: r["run_id"] for r in runs}


def _by_seed(study, metric: str) -> dict[tuple[str, ...], dict[str, float]]:
    """{cell (levels in component order, as logged): {seed: value}} of the finished runs."""
    keys = [c.key for c in study.arms.components]
    out: dict[tuple[str, ...], dict[str, float]] = {}
    for row in study.runs[study.runs["status"] == "FINISHED"].to_dict("records"):
        out.setdefault(tuple(str(row[k]) for k in keys), {})[str(row["seed"])] = float(row[metric])
    return out


def _word_effect(values, arms, word: str, seed: str) -> float:
    """The textbook effect of a word (a product of components' ±1 codes, first level listed = +1)
    over the cells given, at one seed: mean where the product is +1 minus mean where it is -1."""
    plus, minus = [], []
    for cell, by_seed in values.items():
        sign = 1
        for letter in word:
            i = LETTERS.index(letter)
            sign *= 1 if cell[i].lower() == arms.components[i].levels[0].lower() else -1
        (plus if sign > 0 else minus).append(by_seed[seed])
    return sum(plus) / len(plus) - sum(minus) / len(minus)


def test_fraction_and_leave_one_out_reuse_the_grids_runs_and_match_its_contrasts(ablate_cli, launch_dir: Path):
    code, _, err = ablate_cli("-m", *COMPONENTS, *TINY)
    assert code == 0, err
    code, out, err = ablate_cli("-m", *COMPONENTS, *TINY, "design=fractional")
    assert code == 0, err
    assert "trained" not in out.replace("not trained", "")  # every arm found finished in the grid
    code, out, err = ablate_cli("-m", *COMPONENTS, *TINY, "design=leave_one_out")
    assert code == 0, err

    tracker = Tracker(f"sqlite:///{launch_dir / 'mlflow.db'}")
    parents = _parents(tracker)
    full, frac, loo = (collect(tracker, parents[name]) for name in ("full", "fractional", "leave_one_out"))
    assert len(full.runs) == 32 and len(frac.runs) == 16 and len(loo.runs) == 10
    assert set(frac.runs["run_id"]) <= set(full.runs["run_id"]) and set(loo.runs["run_id"]) <= set(full.runs["run_id"])
    arms = frac.arms
    assert arms.generators == ("D=ABC",) and arms.resolution == 4

    (section,) = analyze(frac)
    assert len(section.grid.cells) == 8  # the fraction's arms only: no "missing" cells
    seeds = sorted(full.runs["seed"].astype(str).unique())
    for metric in METRICS:
        grid_values = _by_seed(full, metric)
        found = {(e.kind, e.factor, e.other): e for e in section.effects if e.metric == metric}
        for i, comp in enumerate(arms.components):
            e = found[("main", comp.key, "")]
            assert e.high.lower() == comp.levels[0].lower()  # first level − second: the textbook sign
            alias = arms.aliases(LETTERS[i])[0]  # its three-factor interaction
            predicted = [
                _word_effect(grid_values, arms, LETTERS[i], s) + _word_effect(grid_values, arms, alias, s)
                for s in seeds
            ]
            assert e.test.estimate == pytest.approx(sum(predicted) / len(predicted), abs=1e-9, rel=1e-9)
            assert e.aliases == [" × ".join(arms.key_of(x) for x in alias)]
        for a, b in itertools.combinations(range(4), 2):
            e = found.get(("interaction", arms.keys[a], arms.keys[b]))
            if e is None:  # its alias pair was estimated under the first pair's name
                continue
            # (a1b1 − a0b1) − (a1b0 − a0b0) with a1, b1 the levels' natural-order highs: twice the textbook
            # effect, signed per factor
            highs = [section.grid.levels[arms.keys[j]][1] for j in (a, b)]
            sign = 1
            for j, high in zip((a, b), highs, strict=True):
                sign *= 1 if high.lower() == arms.components[j].levels[0].lower() else -1
            word = LETTERS[a] + LETTERS[b]
            alias = arms.aliases(word)[0]
            predicted = [
                2 * sign * (_word_effect(grid_values, arms, word, s) + _word_effect(grid_values, arms, alias, s))
                for s in seeds
            ]
            assert e.test.estimate == pytest.approx(sum(predicted) / len(predicted), abs=1e-9, rel=1e-9)

    report = next((launch_dir / "reports").glob(f"designs-{parents['fractional'][:8]}/report.md")).read_text()
    assert "2^(4-1) fractional factorial, resolution IV" in report
    assert "- A = BCD" in report and "- AB = CD" in report
    assert "model.skip: True − False = model.bottleneck × trainer.optimizer × model.middle" in report
    assert "missing" not in report

    # leave-one-out: the reference arm minus each arm without one component, paired by seed
    (section,) = analyze(loo)
    ref = ("True", "True", "adam", "16")
    grid_values = _by_seed(full, "final_eval_loss")
    for i, comp in enumerate(loo.arms.components):
        ablated = list(ref)
        ablated[i] = {"True": "False", "adam": "sgd", "16": "8"}[ref[i]]
        diffs = [grid_values[ref][s] - grid_values[tuple(ablated)][s] for s in seeds]
        (e,) = [
            e for e in section.effects if e.metric == "final_eval_loss" and e.kind == "main" and e.factor == comp.key
        ]
        assert math.isclose(e.test.estimate, sum(diffs) / len(diffs), rel_tol=1e-12, abs_tol=1e-12)
        assert e.test.kind == "paired t" and e.test.n == 2
    assert not [e for e in section.effects if e.kind in ("interaction", "simple")]


def _children(tracker: Tracker, experiment: str) -> list[dict]:
    exp = tracker.client.get_experiment_by_name(experiment).experiment_id
    return [r for r in tracker.search(exp) if r["tags"].get("ablate.kind") != "sweep"]


def test_a_design_runs_in_rounds_through_the_parallel_launcher_and_a_rerun_adds_nothing(ablate_cli, launch_dir):
    args = [
        "-m",
        "design=add_one_in",
        "model.skip=true,false",
        "model.bottleneck=true,false",
        "replicates=auto",
        "sequential.min=2",
        "sequential.max=3",
        "hydra/launcher=parallel",
        *[a for a in TINY if not a.startswith(("replicates", "claims", "tracking"))],
        "tracking.experiment=design_rounds",
    ]
    code, out, err = ablate_cli(*args)
    assert code == 0, err
    tracker = Tracker(f"sqlite:///{launch_dir / 'mlflow.db'}")
    first = _children(tracker, "design_rounds")
    arms = {(r["params"]["model.skip"], r["params"]["model.bottleneck"]) for r in first}
    assert arms == {("False", "False"), ("True", "False"), ("False", "True")}  # never the full model
    (parent,) = _parents_of(tracker, "design_rounds")
    assert json.loads(parent["tags"]["ablate.rounds"])["rounds"][0] == {"round": 1, "cells": 3, "seeds": 2}
    report = Path(out.strip().splitlines()[-1].split("report: ", 1)[1]).read_text()
    assert "**Design: add-one-in**" in report and "the arm with it alone minus the baseline arm" in report
    code, out, err = ablate_cli(*args)
    assert code == 0, err
    again = _children(tracker, "design_rounds")
    assert sorted(r["run_id"] for r in again) == sorted(r["run_id"] for r in first)  # nothing trained again
    assert len(_parents_of(tracker, "design_rounds")) == 1  # the same sweep, continued


def _parents_of(tracker: Tracker, experiment: str) -> list[dict]:
    exp = tracker.client.get_experiment_by_name(experiment).experiment_id
    return tracker.search(exp, tags={"ablate.kind": "sweep"})


def test_one_at_a_time_tests_a_three_level_component_as_a_whole_then_against_its_reference(ablate_cli, launch_dir):
    args = ["-m", "design=one_at_a_time", "model.middle=16,8,4", "model.skip=true,false", *TINY, "replicates=3"]
    code, out, err = ablate_cli(*args)
    assert code == 0, err
    tracker = Tracker(f"sqlite:///{launch_dir / 'mlflow.db'}")
    cells = {(r["params"]["model.middle"], r["params"]["model.skip"]) for r in _children(tracker, "designs")}
    assert cells == {("16", "True"), ("8", "True"), ("4", "True"), ("16", "False")}
    (section,) = analyze(collect(tracker, _parents_of(tracker, "designs")[0]["run_id"]))
    found = [e for e in section.effects if e.metric == "final_eval_loss"]
    (omni,) = [e for e in found if e.kind == "omnibus"]
    assert omni.factor == "model.middle" and omni.test.n == 3
    assert omni.test.kind == "repeated-measures ANOVA" and "too few seeds to check normality" in omni.detail  # n = 3
    mains = {(e.factor, e.low, e.high) for e in found if e.kind == "main"}
    assert mains == {("model.middle", "16", "8"), ("model.middle", "16", "4"), ("model.skip", "True", "False")}
    report = Path(out.strip().splitlines()[-1].split("report: ", 1)[1]).read_text()
    assert "model.middle: any difference among its 3 levels" in report and "missing" not in report
