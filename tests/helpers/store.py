"""Fixed sweeps logged into a real temporary MLflow store (no training), for the report tests.

The sqlite schema takes seconds to create, so it is made once per session and copied per test.
A test module's `store` fixture returns fresh_store(tmp_path_factory, tmp_path).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
from mlflow.entities import Metric, Param
from PIL import Image

from ablate.tracking.store import Tracker
from ablate.tracking.tags import DATA_SPEC

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
FILES = ("report.md", "results.csv", "cells.csv", "effects.csv", "results.json")
_TEMPLATE: list[Path] = []


def fresh_store(tmp_path_factory, tmp_path) -> Tracker:
    """A fresh store (a copy of a migrated template, made once per session) in tmp_path."""
    if not _TEMPLATE:
        path = tmp_path_factory.mktemp("template") / "mlflow.db"
        Tracker(f"sqlite:///{path}").experiment("warmup", None)
        _TEMPLATE.append(path)
    shutil.copy(_TEMPLATE[0], tmp_path / "mlflow.db")
    return Tracker(f"sqlite:///{tmp_path / 'mlflow.db'}")


def _png(path: Path, shade: int) -> Path:
    """A tiny deterministic stand-in for a progress grid."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((6, 12, 3), shade, dtype=np.uint8)).save(path)
    return path


def log_sweep(
    tracker: Tracker, experiment: str, swept: list[str], jobs: list[dict], parent_metrics: dict, tmp: Path, command=""
):
    """A parent run tagged like AblateCallback's and one child per job, logged as run.py logs them.

    job: name, params, metrics (final), history {metric: [per-epoch values]}, status, error, progress
    (epochs with a progress grid). Returns (parent run id, {job name: run id})."""
    exp = tracker.experiment(experiment, (tmp / "artifacts" / experiment).as_uri())
    command = command or "python -m ablate -m " + " ".join(f"{k}=..." for k in swept)
    parent = tracker.start(
        exp,
        f"{experiment}-20250101-000000",
        tags={"ablate.kind": "sweep", "ablate.factors": json.dumps(swept), "ablate.command": command},
    )
    tracker.log_params(parent, {"factors": ",".join(swept), "kmeans_seeds": 10, "n_init": 10})
    if parent_metrics:
        tracker.log_metrics(parent, parent_metrics)
        tracker.set_tags(parent, {"ablate.baseline_data": "mnist5k"})
    ids = {}
    for job in jobs:
        overrides = [f"{k}={str(v).lower()}" for k, v in job["params"].items() if k in swept]
        spec = {"name": job["params"].get("data.name", "mnist5k"), "labelled": True}
        run = tracker.start(
            exp,
            job["name"],
            parent,
            tags={"ablate.overrides": json.dumps(overrides), DATA_SPEC: json.dumps(spec)},
        )
        ids[job["name"]] = run
        if job.get("params_logged", True):
            tracker.client.log_batch(run, params=[Param(k, str(v)) for k, v in sorted(job["params"].items())])
        batch = [
            Metric(k, float(v), 0, step)
            for k, values in job.get("history", {}).items()
            for step, v in enumerate(values, 1)
        ]
        last = max((len(v) for v in job.get("history", {}).values()), default=0)
        batch += [Metric(k, float(v), 0, last) for k, v in sorted(job.get("metrics", {}).items())]
        for i in range(0, len(batch), 900):
            tracker.client.log_batch(run, metrics=batch[i : i + 900])
        for epoch in job.get("progress", []):
            shot = _png(tmp / "shots" / run / f"epoch_{epoch:03d}.png", (epoch * 40 + len(ids) * 20) % 256)
            tracker.log_artifact(run, shot, "progress")
        if job.get("error"):
            tracker.set_tags(run, {"ablate.error": job["error"]})
        tracker.end(run, job.get("status", "FINISHED"))
    return parent, ids


def normalize(text: str, parent: str, ids: dict[str, str]) -> str:
    """Run ids are random: replace them (and their 8-character prefixes) by stable names."""
    for name, run_id in [("parent", parent), *ids.items()]:
        tag = "<" + name.replace(" ", "_") + ">"
        text = text.replace(run_id, tag).replace(run_id[:8], tag)
    return text


def check_golden(out: Path, parent: str, ids: dict[str, str], name: str) -> None:
    """The report's text files against tests/golden/<name>/ (ABLATE_UPDATE_GOLDEN=1 rewrites them)."""
    folder = GOLDEN / name
    for file in FILES:
        text = normalize((out / file).read_text(), parent, ids)
        if os.environ.get("ABLATE_UPDATE_GOLDEN"):
            folder.mkdir(parents=True, exist_ok=True)
            (folder / file).write_text(text)
        assert text == (folder / file).read_text(), f"{file} differs from tests/golden/{name}/{file}"
