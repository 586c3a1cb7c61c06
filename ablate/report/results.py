"""A sweep's results in a notebook: one tidy table, and the report's analyses callable on it.

    import ablate
    df = ablate.results("article_purity")           # the experiment's latest sweep, or a parent run id
    df.groupby(df.attrs["ablate"]["factors"])["purity_mean"].describe()     # per arm
    ablate.cells(df), ablate.effects(df), ablate.verdicts(df)   # as the report computes them
    ablate.effects(df[df["seed"] < 5])                           # on any rows of it

Everything is read from the tracking store, like the report (ablate/report/collect.py); the
analyses are the report's own code (ablate/report/analysis.py), so they give its numbers.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from ablate.report.analysis import Section, analyze
from ablate.report.collect import GROUPS, REPLICATE, Study, collect
from ablate.report.export import cell_table, document, effect_table
from ablate.tracking.store import Tracker, resolve_uri

RUN_ID = re.compile(r"^[0-9a-f]{32}$")
SOURCE = "ablate"  # the key of df.attrs that says which sweep a table came from


def results(sweep: str, tracking_uri: str | None = None) -> pd.DataFrame:
    """One row per replicate (a training run) of a sweep: its factors, training seed, task and
    dataset, status, run id and every metric the runs logged or the report derives, in the metric
    registry's order. `sweep`: a parent run id, or an experiment name (its latest sweep).
    `tracking_uri`: as `tracking.uri` (None: $MLFLOW_TRACKING_URI, else ./mlflow.db)."""
    uri = resolve_uri(tracking_uri, Path.cwd())
    tracker = Tracker(uri)
    study = collect(tracker, _parent(tracker, sweep))
    runs = study.runs
    metrics = [m for m in study.metrics.names() if m in runs]
    front = [*study.factors, REPLICATE, *GROUPS, "status", "run_id"]
    df = runs[front + metrics].copy()
    df[REPLICATE] = pd.to_numeric(df[REPLICATE], errors="coerce").astype("Int64")
    df.attrs[SOURCE] = {"parent": study.parent["run_id"], "tracking_uri": uri, "factors": list(study.factors)}
    return df.reset_index(drop=True)


def _parent(tracker: Tracker, sweep: str) -> str:
    if RUN_ID.match(sweep) and tracker.find_run(sweep) is not None:
        return sweep
    experiment = tracker.experiment_id(sweep)
    sweeps = tracker.sweeps(experiment) if experiment is not None else []
    if not sweeps:
        raise ValueError(f"{sweep!r}: no such sweep (a parent run id, or an experiment with a sweep) in {tracker.uri}")
    return sweeps[0]["run_id"]


def _sections(df: pd.DataFrame) -> tuple[Study, list[Section]]:
    """The report's analysis of the rows of `df` (a table `results` returned, or rows of it)."""
    source = df.attrs.get(SOURCE)
    if not source:
        raise ValueError("not a table from ablate.results() (its df.attrs['ablate'] says which sweep)")
    study = collect(Tracker(source["tracking_uri"]), source["parent"])
    study.runs = study.runs[study.runs["run_id"].isin(set(df["run_id"]))].reset_index(drop=True)
    return study, analyze(study)


def cells(df: pd.DataFrame) -> pd.DataFrame:
    """Each cell's summary per metric (mean, std over training seeds, n, 95% interval), per task and
    dataset: the report's cells.csv."""
    return pd.DataFrame(cell_table(document(*_sections(df), command="")))


def effects(df: pd.DataFrame) -> pd.DataFrame:
    """Every effect the report estimates on these rows, with its test: the report's effects.csv."""
    return pd.DataFrame(effect_table(document(*_sections(df), command="")))


def verdicts(df: pd.DataFrame) -> pd.DataFrame:
    """Each declared claim's verdict on these rows, as the report's summary gives it."""
    _, sections = _sections(df)
    rows = [{"task": s.task, "data": s.data, **claim} for s in sections for claim in s.claims]
    return pd.DataFrame(rows, columns=["task", "data", "claim", "id", "text", "verdict", "decided", "n", "line"])
