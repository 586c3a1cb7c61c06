"""The only module that talks to MLflow: store, experiment, runs, params, metrics, artifacts.

Everything goes through an explicit MlflowClient and explicit run ids (no fluent global
state), so in-process sweeps, joblib workers and SLURM jobs behave the same.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from pathlib import Path
from typing import Any

import mlflow
from mlflow.entities import Metric, Param, RunTag
from mlflow.tracking import MlflowClient

from ablate.tracking.tags import BOOKKEEPING, FINGERPRINT, IDENTITY, REF, REUSED, SUPERSEDED, SWEEP_KEY, legacy  # noqa: F401
from ablate.tracking.tags import get as tag
from ablate.tracking.uri import absolute_sqlite, resolve_uri  # noqa: F401 - also MLflow's env defaults
from ablate.util.launch_dir import unwritable
from ablate.util.redaction import redact, short_reason  # importing it also installs the log filter

EXPERIMENT_KIND = {"mlflow.experimentKind": "custom_model_development"}  # the UI: training runs, not GenAI
PARENT_TAG = "mlflow.parentRunId"
LOGGED_ARTIFACTS = "mlflow.loggedArtifacts"  # the run's artifacts the UI shows as tables: [{"path", "type"}]


def check_tracking(uri: str, timeout: float = 5.0) -> str | None:
    """None when the tracking store at `uri` answers, else one line saying why not (credentials
    redacted). One quick try, no retries: for a sweep's or a run's preflight."""
    shown = redact(uri)
    scheme = uri.split("://", 1)[0].lower() if "://" in uri else ""
    try:
        if scheme in ("http", "https"):
            from mlflow.utils.credentials import get_default_host_creds
            from mlflow.utils.rest_utils import http_request

            response = http_request(
                get_default_host_creds(uri.rstrip("/")),
                "/api/2.0/mlflow/experiments/search",
                "GET",
                max_retries=0,
                timeout=timeout,
                raise_on_status=False,
                params={"max_results": 1},
            )
            if response.status_code in (401, 403):
                return f"{shown} refused the credentials (HTTP {response.status_code})"
            if response.status_code != 200:
                return f"{shown} answered HTTP {response.status_code}: is it an MLflow tracking server?"
        elif scheme.split("+")[0] in ("postgresql", "postgres", "mysql", "mssql"):
            import sqlalchemy

            connect_args = {"connect_timeout": int(timeout)} if scheme.startswith(("postgres", "mysql")) else {}
            engine = sqlalchemy.create_engine(uri, connect_args=connect_args)
            try:
                with engine.connect():
                    pass
            finally:
                engine.dispose()
        elif scheme not in ("sqlite", "file", "databricks"):
            return f"{shown}: unsupported store (allowed: a path, sqlite:///, http(s)://, postgresql://, mysql://)"
        elif scheme == "sqlite":
            path = Path(uri[len("sqlite:///") :])
            reason = unwritable(path.parent)
            if reason:
                return f"{shown}: {reason}"
            if path.exists():  # garbage or a truncated file: say so before a run opens
                import sqlite3

                with contextlib.closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as db:
                    db.execute("select count(*) from sqlite_master").fetchone()
    except Exception as exc:  # noqa: BLE001 - every failure becomes one line
        return f"cannot reach {shown}: {short_reason(exc)}"
    return None


def store_fault(exc: BaseException) -> str | None:
    """One line when `exc` is the tracking store failing (unreachable, gone, corrupt), else None."""
    if isinstance(exc, mlflow.exceptions.MlflowException) or type(exc).__module__.startswith("sqlalchemy"):
        return f"the tracking store failed: {short_reason(exc)}"
    return None


class Tracker:
    def __init__(self, uri: str):
        self.uri = uri
        if redact(uri) != uri:  # MLflow prints "View run ... at: <uri with the password>" on each run's end
            os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
        # no progress bar per artifact fetched (a report's images, a carried-on run's progress grids)
        os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
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
        tags = {k: redact(str(v)) for k, v in (tags or {}).items()}
        tags = dict(sorted(tags.items(), key=lambda kv: kv[0].startswith(BOOKKEEPING)))  # the UI lists them as set
        if parent_id:
            tags[PARENT_TAG] = parent_id
        return self.client.create_run(experiment_id, run_name=redact(name), tags=tags).info.run_id

    def end(self, run_id: str, status: str = "FINISHED") -> None:
        self.client.set_terminated(run_id, status=status)

    def reopen(self, run_id: str, tags: dict[str, Any]) -> None:
        """A run that ended (killed, failed, or a finished sweep's parent) RUNNING again, continued
        by this process: rerunning a command writes into the runs it made, not beside them."""
        self.client.update_run(run_id, status="RUNNING")
        have = self.client.get_run(run_id).data.tags
        for stale in ("ablate.error", "ablate.pruned", "ablate.resumed_epoch"):  # what its last ending said
            if stale in have:
                self.client.delete_tag(run_id, stale)
        self.set_tags(run_id, tags)

    def log_params(self, run_id: str, params: dict[str, Any]) -> None:
        items = [Param(k, redact(str(v))) for k, v in sorted(params.items())]
        for i in range(0, len(items), 100):  # MLflow caps a batch at 100 params
            self.client.log_batch(run_id, params=items[i : i + 100])

    def log_metrics(self, run_id: str, metrics: dict[str, float], step: int = 0) -> None:
        now = int(time.time() * 1000)  # in the caller's order: the UI lists a run's metrics as logged
        batch = [Metric(k, float(v), now, step) for k, v in metrics.items()]
        self.client.log_batch(run_id, metrics=batch)

    def set_tags(self, run_id: str, tags: dict[str, Any]) -> None:
        self.client.log_batch(run_id, tags=[RunTag(k, redact(str(v))) for k, v in tags.items()])

    def describe(self, run_id: str, markdown: str) -> None:
        """The run's description, the first thing its page in the UI shows after the tags."""
        self.set_tags(run_id, {"mlflow.note.content": markdown})

    def share_view(self, experiment_id: str, key: str, state: dict[str, Any]) -> None:
        """A shared view of the experiment's runs table (see ablate.tracking.ui_view), opened by its key."""
        self.client.set_experiment_tag(experiment_id, f"mlflow.sharedViewState.{key}", json.dumps(state))

    def log_artifact(self, run_id: str, path: Path, folder: str | None = None) -> None:
        if Path(path).is_dir():
            self.client.log_artifacts(run_id, str(path), folder)
        else:
            self.client.log_artifact(run_id, str(path), folder)

    def log_dataset(self, run_id: str, spec: dict[str, Any], digest: str, sizes: dict[str, int]) -> None:
        """The run's data as MLflow dataset inputs (the UI's Datasets column): one per split."""
        from mlflow.entities import Dataset, DatasetInput, InputTag

        source = redact(json.dumps({k: v for k, v in spec.items() if k in ("name", "root", "limit", "split_seed")}))
        name, ctx = str(spec.get("name", "data")), "mlflow.data.context"
        rows = {split: json.dumps({"num_rows": n}) for split, n in sizes.items()}
        inputs = [
            DatasetInput(Dataset(name, digest[:32], "local", source, profile=row), tags=[InputTag(ctx, split)])
            for split, row in rows.items()
        ]
        for attempt in range(3):  # parallel jobs insert the same dataset row at once: the loser retries
            try:
                self.client.log_inputs(run_id, datasets=inputs)
                return
            except mlflow.exceptions.MlflowException:
                if attempt == 2:
                    raise
                time.sleep(0.2 * (attempt + 1))

    def log_table(self, run_id: str, table, name: str) -> None:
        """A pandas table the UI shows as one (MLflow's table artifact: JSON, orient split), replaced
        on a rerun: MlflowClient.log_table appends to an existing file."""
        self.log_text(run_id, table.to_json(orient="split", index=False, date_format="iso"), name)
        logged = json.loads(self.run(run_id)["tags"].get(LOGGED_ARTIFACTS, "[]"))
        entry = {"path": name, "type": "table"}
        if entry not in logged:
            self.set_tags(run_id, {LOGGED_ARTIFACTS: json.dumps([*logged, entry])})

    def log_text(self, run_id: str, text: str, name: str) -> None:
        self.client.log_text(run_id, redact(text), name)

    # -- reading back (the report) -------------------------------------------------------------
    def run(self, run_id: str) -> dict[str, Any]:
        return _as_dict(self.client.get_run(run_id))

    def search(
        self,
        experiment_id: str,
        tags: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
        status: str | None = None,
    ) -> list[dict[str, Any]]:
        """The experiment's runs with these tags, params (and status), oldest first (tags also by legacy names)."""
        quote = lambda v: f'"{v}"' if "'" in str(v) else f"'{v}'"  # noqa: E731 - MLflow has no escapes
        found = {}
        for names in {tuple(tags or {}), tuple(legacy(k) for k in tags or {})}:
            terms = [f"tags.`{n}` = {quote(v)}" for n, v in zip(names, (tags or {}).values(), strict=True)]
            terms += [f"params.`{k}` = {quote(v)}" for k, v in (params or {}).items()]
            terms += [f"attributes.status = '{status}'"] if status else []
            runs = self.client.search_runs([experiment_id], filter_string=" and ".join(terms), max_results=10000)
            found.update({r.info.run_id: _as_dict(r) for r in runs})
        return sorted(found.values(), key=lambda r: (r["start_time"], r["run_id"]))

    def children(self, experiment_id: str, parent_id: str) -> list[dict[str, Any]]:
        return self.search(experiment_id, tags={PARENT_TAG: parent_id})

    def refer(self, parent_id: str, run_id: str) -> None:
        """Count another sweep's finished run in this sweep (its results are not copied)."""
        self.set_tags(parent_id, {REF + run_id: "1"})

    def members(self, experiment_id: str, parent_id: str) -> list[dict[str, Any]]:
        """A sweep's runs: its children and the finished runs it references, oldest first."""
        runs = {r["run_id"]: r for r in self.children(experiment_id, parent_id) if tag(r["tags"], SUPERSEDED) is None}
        for key in self.run(parent_id)["tags"]:
            prefix = next((p for p in (REF, legacy(REF)) if key.startswith(p)), None)
            if prefix and key[len(prefix) :] not in runs:
                found = self.find_run(key[len(prefix) :])
                if found is not None:
                    runs[found["run_id"]] = found
        return sorted(runs.values(), key=lambda r: (r["start_time"], r["run_id"]))

    def find_run(self, run_id: str) -> dict[str, Any] | None:
        """The run, or None when the store has no such run or it was deleted (the report CLI's 'not found')."""
        try:
            run = self.client.get_run(run_id)
        except mlflow.exceptions.MlflowException:
            return None
        return None if run.info.lifecycle_stage == "deleted" else _as_dict(run)

    def experiment_id(self, name: str) -> str | None:
        found = self.client.get_experiment_by_name(name)
        return None if found is None else found.experiment_id

    def experiment_name(self, experiment_id: str) -> str:
        return self.client.get_experiment(experiment_id).name

    def sweeps(self, experiment_id: str) -> list[dict[str, Any]]:
        """The experiment's sweep parent runs (tag ablate.kind=sweep), newest first."""
        return self.search(experiment_id, tags={"ablate.kind": "sweep"})[::-1]

    def history(self, run_id: str, key: str) -> list[tuple[int, float]]:
        """(step, value), one per step: a step logged again (a resumed run redoing the epoch it
        was killed in) keeps its latest value."""
        latest = {}
        for m in sorted(self.client.get_metric_history(run_id, key), key=lambda m: m.timestamp):
            latest[m.step] = m.value
        return sorted(latest.items())

    def download(self, run_id: str, path: str, dst: Path) -> Path:
        dst.mkdir(parents=True, exist_ok=True)
        return Path(self.client.download_artifacts(run_id, path, str(dst)))

    def list_artifacts(self, run_id: str, path: str | None = None) -> list[str]:
        return [a.path for a in self.client.list_artifacts(run_id, path)]

    # -- copying between runs (what to copy is ablate.job.resume's policy) -----------------------
    def copy_metrics(self, src: str, dst: str, max_step: int | None = None, keys: list[str] | None = None) -> None:
        """src's metric histories (steps <= max_step when given; only `keys` when given), timestamps
        kept, into dst."""
        batch = []
        for key in (k for k in self.client.get_run(src).data.metrics if keys is None or k in keys):
            batch += [
                Metric(key, m.value, m.timestamp, m.step)
                for m in self.client.get_metric_history(src, key)
                if max_step is None or m.step <= max_step
            ]
        for i in range(0, len(batch), 1000):
            self.client.log_batch(dst, metrics=batch[i : i + 1000])

    def copy_artifacts(self, src: str, dst: str, names: list[str], folder: str) -> None:
        """The artifacts `names` of src into dst's `folder`."""
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            for name in names:
                self.client.log_artifact(dst, self.client.download_artifacts(src, name, tmp), folder)


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
