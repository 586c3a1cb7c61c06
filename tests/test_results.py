"""`ablate.results()`: a sweep as one tidy table in a notebook, and the report's analyses on it (or
on any rows of it), against a real store."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest
from helpers.runs import TINY

import ablate

pytestmark = pytest.mark.slow  # a real 4-cell sweep (~30 s)


def test_results_is_a_row_per_replicate_and_the_reports_analyses_run_on_it(ablate_cli, launch_dir):
    args = ["-m", "model.skip=true,false", "model.bottleneck=true,false", *TINY, "replicates=2"]
    code, out, err = ablate_cli(*args, "tracking.experiment=notebook")
    assert code == 0, err
    report = Path(out.strip().splitlines()[-1].split("report: ", 1)[1])

    df = ablate.results("notebook")  # the experiment's latest sweep, in ./mlflow.db
    assert list(df.columns[:7]) == [
        "model.skip",
        "model.bottleneck",
        "seed",
        "task.name",
        "data.name",
        "status",
        "run_id",
    ]
    assert len(df) == 8 and set(df["seed"]) == {0, 1} and (df["status"] == "FINISHED").all()
    assert {"purity_mean", "final_eval_loss", "psnr", "loss_auc"} <= set(df.columns)
    by_id = ablate.results(df.attrs["ablate"]["parent"], tracking_uri=f"sqlite:///{launch_dir / 'mlflow.db'}")
    pd.testing.assert_frame_equal(df, by_id)

    # the report's own numbers: its effects.csv, its cells.csv, its verdict lines
    mine, theirs = ablate.effects(df), pd.read_csv(report.parent / "effects.csv")
    assert list(mine["comparison"]) == list(theirs["comparison"])
    for a, b in zip(mine["estimate"], theirs["estimate"], strict=True):
        assert (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b, rel=1e-4, abs=1e-9)
    assert len(ablate.cells(df)) == len(pd.read_csv(report.parent / "cells.csv"))
    text = report.read_text()
    assert all(line in text for line in ablate.verdicts(df)["line"])

    # any rows of it: the skip arms alone have no skip effect left to estimate
    skips = df[df["model.skip"] == "True"]
    assert set(ablate.cells(skips)["arm"]) - {"raw pixels"} == {
        "model.skip=True, model.bottleneck=False",
        "model.skip=True, model.bottleneck=True",
    }
    assert not any(c.startswith("model.skip:") for c in ablate.effects(skips)["comparison"])

    with pytest.raises(ValueError, match="no such sweep"):
        ablate.results("no_such_experiment")
    with pytest.raises(ValueError, match="not a table from ablate.results"):
        ablate.effects(pd.DataFrame({"run_id": []}))
