"""Hydra callbacks: a multirun opens the tracking store and a parent run before the first job,
and when the last job ends computes the raw-pixel baseline, writes the report and closes the
parent run. Jobs find the store and the parent through environment variables, so in-process,
joblib and SLURM launchers behave the same."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import socket
import sys
from pathlib import Path
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from ablate.config.design import Arms
from ablate.config.metrics import Metric
from ablate.job.contract import ENV_EXPERIMENT, ENV_PARENT, ENV_URI
from ablate.job.fingerprint import code_version, neutral
from ablate.job.precision import ENV_PRECISION, sweep_precisions
from ablate.job.resources import forward_env
from ablate.job.resume import alive_tags, mark_orphans
from ablate.sweep.console import arm_factors, arm_table, key_metrics, sweep_table
from ablate.sweep.design import ABLATE_SWEEPER, design_of
from ablate.sweep.study import study_json
from ablate.tracking.describe import sweep_description
from ablate.tracking.experiments import open_experiment
from ablate.tracking.store import (
    SWEEP_KEY,
    Tracker,
    check_tracking,
    redact,
    resolve_uri,
    store_fault,
)
from ablate.tracking.tags import DATA_SPEC, DESIGN, STUDY
from ablate.tracking.tags import get as tag
from ablate.tracking.ui_view import view_state
from ablate.tracking.uri import ui_links
from ablate.util.redaction import redact_files

ENV_KEYS = (ENV_URI, ENV_PARENT, ENV_EXPERIMENT, ENV_PRECISION)
ARMS_TABLE = "arms.json"  # the parent run's per-arm table (the UI shows it as a table)


def sweep_key(config: DictConfig, arms: Arms | None) -> str:
    """What makes two commands the same sweep: the experiment, the code and every override that
    can change which runs exist or what they compute (not where output goes or how it is shown,
    not the launcher; a search's sweeper settings count)."""
    lines = [f"{k}={v}" for k, v in (OmegaConf.select(config, "hydra.sweeper.params") or {}).items()]
    lines += list(config.hydra.overrides.task)
    kept = []
    for o in OverridesParser.create().parse_overrides(lines):
        key = o.get_key_element().lstrip("+~")
        searched = key.startswith(("hydra/sweeper", "hydra.sweeper"))
        # another design of seeds is another sweep (of arms: below, as resolved)
        design = key == "replicates" or key.startswith("sequential.")
        if (key.startswith("hydra") and not searched) or (neutral(key) and not design):
            continue
        kept.append(o.input_line)
    # a design by its arms (design_of_sweep): design=fractional and its explicit p are the same sweep
    identity = arms.summary() if arms is not None and arms.name != "full" else ""
    text = json.dumps([config.tracking.experiment, code_version(), sorted(kept)] + ([identity] if identity else []))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _parsed(config: DictConfig) -> list:
    params = OmegaConf.select(config, "hydra.sweeper.params") or {}
    lines = [f"{k}={v}" for k, v in params.items()] + list(config.hydra.overrides.task)
    return OverridesParser.create().parse_overrides(lines)


def design_of_sweep(config: DictConfig) -> Arms | None:
    """The sweep's design over its components (ablate/config/design.py), as the parent run keeps it;
    None for a sweeper that runs no design (an Optuna search)."""
    if not str(OmegaConf.select(config, "hydra.sweeper._target_") or "").endswith(ABLATE_SWEEPER):
        return None
    d = config.design
    return design_of(_parsed(config), d.name, d.get("p"), d.get("resolution"))


def swept_keys(config: DictConfig) -> list[str]:
    """The factors of a sweep: keys given several values on the command line or in the sweep
    file's grid. `seed` is among them when swept; the report treats it as replicates."""
    keys = [o.get_key_element() for o in _parsed(config) if o.is_sweep_override()]
    return list(dict.fromkeys(keys))


class AblateCallback(Callback):
    def __init__(self) -> None:
        self.tracker: Tracker | None = None
        self.parent: str | None = None
        self.experiment: str | None = None

    # Hydra turns a callback's exception into a warning and goes on; ours must stop the command
    # instead (SystemExit is not an Exception), with one line saying why.
    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        try:
            self._open(config)
        except Exception as exc:  # noqa: BLE001
            if self.tracker is not None and self.parent is not None:
                with contextlib.suppress(Exception):  # the store may be what failed
                    self.tracker.end(self.parent, "FAILED")
            _fail(f"tracking: {store_fault(exc) or f'{type(exc).__name__}: {exc}'}", code=2)

    def _open(self, config: DictConfig) -> None:
        launch_dir = Path(config.hydra.runtime.cwd)
        # the store, its tables and the experiment are created here, once, before any worker
        t = config.tracking
        reason = check_tracking(resolve_uri(t.uri, launch_dir))  # seconds, not MLflow's minutes of retries
        if reason:
            raise ConnectionError(reason)
        self.tracker, self.experiment = open_experiment(t.uri, t.experiment, t.artifact_dir, launch_dir)
        uri = self.tracker.uri
        # runs left RUNNING by a killed sweep are closed as KILLED before anything new starts
        mark_orphans(self.tracker, self.experiment, socket.gethostname())
        arms = design_of_sweep(config)
        self.parent = self._parent(config, arms)
        # the claims the report judges, kept with the parent (a rerun with reworded claims rewrites them)
        self.tracker.log_text(self.parent, study_json(config, arms), STUDY)
        env = {ENV_URI: uri, ENV_PARENT: self.parent, ENV_EXPERIMENT: self.experiment}
        env[ENV_PRECISION] = json.dumps(sweep_precisions())  # trainer.precision=auto, once for the sweep
        os.environ.update(env)
        forward_env(config, env)

    def _parent(self, config: DictConfig, arms: Arms | None) -> str:
        """The sweep's parent run: the one an earlier run of the same command (and code) made,
        reopened, so a rerun continues it; else a new one."""
        alive = alive_tags()
        key = sweep_key(config, arms)
        earlier = self.tracker.search(self.experiment, tags={"ablate.kind": "sweep", SWEEP_KEY: key})
        earlier = [r for r in earlier if r["status"] != "RUNNING"]  # a live copy of the command keeps its own
        if earlier:
            self.tracker.reopen(earlier[-1]["run_id"], alive)
            return earlier[-1]["run_id"]
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        factors = swept_keys(config)
        tags = {
            "ablate.kind": "sweep",
            "ablate.factors": json.dumps(factors),
            "ablate.command": " ".join(["python -m ablate", *sys.argv[1:]]),
            SWEEP_KEY: key,
            **alive,
        }
        if arms is not None:
            tags[DESIGN] = arms.summary()
        parent = self.tracker.start(self.experiment, f"{config.tracking.experiment}-{stamp}", tags=tags)
        self.tracker.log_params(
            parent,
            {
                "factors": ",".join(factors),
                "sweep_dir": config.hydra.sweep.dir,
                "kmeans_seeds": config.eval.kmeans_seeds,
                "n_init": config.eval.n_init,
            },
        )
        return parent

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        if self.tracker is None or self.parent is None:
            return
        from ablate.report import write_report

        tracker, parent = self.tracker, self.parent
        for key in ENV_KEYS:
            os.environ.pop(key, None)
        try:
            children = tracker.members(self.experiment, parent)
            log_baselines(tracker, parent, children, config)
            launch_dir = Path(config.hydra.runtime.cwd)
            redact_files([launch_dir / config.hydra.sweep.dir / "multirun.yaml"])  # as jobs do with theirs
            out = launch_dir / config.tracking.report_dir / f"{config.tracking.experiment}-{parent[:8]}"
            path = write_report(tracker, parent, out)
            tracker.log_artifact(parent, out, "report")
            factors = json.loads(tracker.run(parent)["tags"].get("ablate.factors", "[]"))
            keys = key_metrics(children)
            table, links = sweep_table(children, factors, keys), self._views(children, factors, keys)
            tracker.log_table(parent, arm_table(children, factors, keys), ARMS_TABLE)  # replaced on a rerun
            tracker.describe(parent, sweep_description(table, str(path), links))
            failed = [c for c in children if c["status"] != "FINISHED"]
            tracker.end(parent, "FAILED" if failed else "FINISHED")
        except BaseException as exc:
            with contextlib.suppress(Exception):  # the store may be what failed
                tracker.end(parent, "FAILED")
            if not isinstance(exc, Exception):
                raise
            again = f"python -m ablate.report --run-id {parent} --tracking-uri {redact(tracker.uri)}"
            reason = store_fault(exc) or f"{type(exc).__name__}: {exc}"[:400]
            _fail(f"report: {reason}; once the store answers, rebuild it: {again}", code=1)
        print(table, flush=True)
        if not tracker.uri.startswith(("http://", "https://")):
            print(f"mlflow: start the UI with: mlflow ui --backend-store-uri {redact(tracker.uri)}", flush=True)
        print(f"mlflow: the arms side by side: {links['compare']}", flush=True)
        print(f"mlflow: this sweep's runs, key columns first: {links['table']}", flush=True)
        print(f"mlflow: this sweep's charts: {links['charts']}", flush=True)
        print(f"report: {path}", flush=True)
        if failed:
            names = "; ".join(f"{redact(c['name'])} {c['status']}" for c in failed)
            print(f"{len(failed)} of {len(children)} runs failed (see the report): {names}", file=sys.stderr)
            sys.exit(1)

    def _views(self, children: list[dict], factors: list[str], keys: list[Metric]) -> dict[str, str]:
        """The sweep's shared view in the UI (its runs, factors and key metrics first, charts of
        them), keyed by its parent run, and the links that open it."""
        ids = [c["run_id"] for c in children]
        state = view_state(ids, self.parent, arm_factors(factors), keys)
        self.tracker.share_view(self.experiment, self.parent, state)
        return ui_links(self.tracker.uri, self.experiment, ids, self.parent)


def _fail(message: str, code: int) -> None:
    print(f"error: {redact(' '.join(message.split()))}", file=sys.stderr, flush=True)
    raise SystemExit(code)


def log_baselines(tracker: Tracker, parent: str, children: list[dict], config: DictConfig) -> None:
    """k-means purity on raw pixels of each labelled dataset the sweep used, once per sweep."""
    from ablate.evaluate import cluster_quality
    from ablate.job.components import load_split

    specs = {tag(c["tags"], DATA_SPEC) for c in children if c["status"] == "FINISHED"} - {None}  # data that loaded
    done = tracker.run(parent)["tags"]
    for text in sorted(specs):
        spec = json.loads(text)
        suffix = "" if len(specs) == 1 else f"_{spec['name']}"
        if not (spec.get("labelled") and config.eval.latent) or f"ablate.baseline_data{suffix}" in done:
            continue  # unlabelled, or scored by an earlier run of this sweep
        try:
            _, eval_set = load_split(spec)
        except Exception as exc:  # noqa: BLE001 - the sweep's report goes on without this baseline
            print(
                f"warning: no raw-pixel baseline for {spec['name']}: {' '.join(str(exc).split())[:200]}",
                file=sys.stderr,
            )
            continue
        if eval_set.labels is None:  # a loader that said labelled but gave no labels
            continue
        q = cluster_quality(
            eval_set.images.flatten(1).numpy(),
            eval_set.labels.numpy(),
            config.eval.kmeans_seeds,
            config.eval.n_init,
            backend=getattr(config.eval.kmeans, "value", config.eval.kmeans),  # an Enum member in the composed config
        )
        tracker.log_metrics(parent, {f"baseline_{k}{suffix}": v for k, v in q.items()})
        tracker.set_tags(parent, {f"ablate.baseline_data{suffix}": spec["name"]})
