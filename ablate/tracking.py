"""The only module that talks to MLflow: store, experiment, runs, params, metrics, artifacts.

Everything goes through an explicit MlflowClient and explicit run ids (no fluent global
state), so in-process sweeps, joblib workers and SLURM jobs behave the same.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

import mlflow  # noqa: E402
from mlflow.entities import Metric, Param, RunTag  # noqa: E402
from mlflow.tracking import MlflowClient  # noqa: E402

# the MLflow 3 UI opens experiments of this kind on the training-runs table, not GenAI
EXPERIMENT_KIND = {"mlflow.experimentKind": "custom_model_development"}
PARENT_TAG = "mlflow.parentRunId"

# how a sweep's parent process hands the store and parent run to its jobs (in-process or not)
ENV_URI, ENV_PARENT, ENV_EXPERIMENT = "ABLATE_TRACKING_URI", "ABLATE_PARENT_RUN_ID", "ABLATE_EXPERIMENT_ID"


def resolve_uri(uri: str | None, launch_dir: Path) -> str:
    """tracking.uri if given, else $MLFLOW_TRACKING_URI, else sqlite:///<launch dir>/mlflow.db.
    A relative sqlite path is resolved against the directory the command started in."""
    uri = uri or os.environ.get("MLFLOW_TRACKING_URI") or "sqlite:///mlflow.db"
    if uri.startswith("sqlite:///") and not uri.startswith("sqlite:////"):
        uri = "sqlite:///" + str((launch_dir / uri[len("sqlite:///") :]).resolve())
    elif "://" not in uri:  # a bare path: treat as a sqlite file
        uri = "sqlite:///" + str((launch_dir / uri).resolve())
    return uri


def artifact_location(uri: str, artifact_dir: str, launch_dir: Path, experiment: str) -> str | None:
    """Local stores keep artifacts in an explicit folder, <artifact_dir>/<experiment> (never
    ./mlruns of whatever directory happens to be current); a server chooses its own store."""
    if uri.startswith(("sqlite:", "postgresql", "mysql", "file:")):
        return (launch_dir / artifact_dir / experiment).resolve().as_uri()
    return None


class Tracker:
    def __init__(self, uri: str):
        self.uri = uri
        self.client = MlflowClient(tracking_uri=uri)

    # -- store and experiment ------------------------------------------------------------------
    def experiment(self, name: str, artifact_location: str | None) -> str:
        """Get or create the study's experiment (creating the sqlite schema on first use)."""
        found = self.client.get_experiment_by_name(name)
        if found is not None:
            exp_id = found.experiment_id
        else:
            try:
                exp_id = self.client.create_experiment(name, artifact_location=artifact_location)
            except mlflow.exceptions.MlflowException:  # another process created it first
                exp_id = self.client.get_experiment_by_name(name).experiment_id
        for key, value in EXPERIMENT_KIND.items():
            self.client.set_experiment_tag(exp_id, key, value)
        return exp_id

    # -- runs ----------------------------------------------------------------------------------
    def start(self, experiment_id: str, name: str, parent_id: str | None = None, tags: dict | None = None) -> str:
        tags = {k: str(v) for k, v in (tags or {}).items()}
        if parent_id:
            tags[PARENT_TAG] = parent_id
        return self.client.create_run(experiment_id, run_name=name, tags=tags).info.run_id

    def end(self, run_id: str, status: str = "FINISHED") -> None:
        self.client.set_terminated(run_id, status=status)

    def log_params(self, run_id: str, params: dict[str, Any]) -> None:
        items = [Param(k, str(v)) for k, v in sorted(params.items())]
        for i in range(0, len(items), 100):  # MLflow caps a batch at 100 params
            self.client.log_batch(run_id, params=items[i : i + 100])

    def log_metrics(self, run_id: str, metrics: dict[str, float], step: int = 0) -> None:
        now = int(time.time() * 1000)
        batch = [Metric(k, float(v), now, step) for k, v in sorted(metrics.items())]
        self.client.log_batch(run_id, metrics=batch)

    def set_tags(self, run_id: str, tags: dict[str, Any]) -> None:
        self.client.log_batch(run_id, tags=[RunTag(k, str(v)) for k, v in tags.items()])

    def log_artifact(self, run_id: str, path: Path, folder: str | None = None) -> None:
        if Path(path).is_dir():
            self.client.log_artifacts(run_id, str(path), folder)
        else:
            self.client.log_artifact(run_id, str(path), folder)

    def log_text(self, run_id: str, text: str, name: str) -> None:
        self.client.log_text(run_id, text, name)

    # -- reading back (the report) -------------------------------------------------------------
    def run(self, run_id: str) -> dict[str, Any]:
        return _as_dict(self.client.get_run(run_id))

    def children(self, experiment_id: str, parent_id: str) -> list[dict[str, Any]]:
        runs = self.client.search_runs(
            [experiment_id], filter_string=f"tags.`{PARENT_TAG}` = '{parent_id}'", max_results=10000
        )
        return sorted((_as_dict(r) for r in runs), key=lambda r: (r["start_time"], r["run_id"]))

    def history(self, run_id: str, key: str) -> list[tuple[int, float]]:
        return sorted((m.step, m.value) for m in self.client.get_metric_history(run_id, key))

    def download(self, run_id: str, path: str, dst: Path) -> Path:
        dst.mkdir(parents=True, exist_ok=True)
        return Path(self.client.download_artifacts(run_id, path, str(dst)))

    def list_artifacts(self, run_id: str, path: str | None = None) -> list[str]:
        return [a.path for a in self.client.list_artifacts(run_id, path)]


def _as_dict(run) -> dict[str, Any]:
    return {
        "run_id": run.info.run_id,
        "name": run.info.run_name,
        "status": run.info.status,
        "start_time": run.info.start_time,
        "experiment_id": run.info.experiment_id,
        "params": dict(run.data.params),
        "metrics": dict(run.data.metrics),
        "tags": dict(run.data.tags),
    }


def open_study(uri: str | None, experiment: str, artifact_dir: str, launch_dir: Path) -> tuple[Tracker, str]:
    """The tracker and experiment id of a study, the store and experiment created if missing."""
    tracker = Tracker(resolve_uri(uri, launch_dir))
    return tracker, tracker.experiment(experiment, artifact_location(tracker.uri, artifact_dir, launch_dir, experiment))
