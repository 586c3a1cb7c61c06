"""Read a sweep back from the tracking store into a pandas table: one row per job.

Everything the report says comes from here, so a report can be rebuilt from the store alone.
"""

from __future__ import annotations

import json
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ablate.config.claims import LEGACY_SET, Claim, Reference, load_set, parse_claims, parse_references
from ablate.config.design import ARMS, Arms, from_dict
from ablate.config.metrics import AUC, EARLY, TO_LOSS, Metric, Registry
from ablate.config.root import SpeedConfig
from ablate.config.stop import CEILING, converges
from ablate.evaluate.speed import epochs_to_loss, loss_auc
from ablate.report.sequential import Design
from ablate.tasks.metrics import BUILTIN
from ablate.tracking.store import Tracker
from ablate.tracking.tags import DATA_SPEC, JOB_LOG, METRICS, SEQUENTIAL, STUDY
from ablate.tracking.tags import get as tag

# swept keys that are not factors: seeds are replicates, task and data get tables of their own
REPLICATE = "seed"
GROUP_KEYS = {"task": "task.name", "data": "data.name"}
GROUPS = tuple(GROUP_KEYS.values())


@dataclass
class Study:
    parent: dict
    experiment: str
    swept: list[str]  # the keys of the parent's ablate.factors tag, as given
    factors: list[str]  # columns compared in the tables (generic: any config key)
    runs: pd.DataFrame  # one row per child run: run_id, name, status, error, factors, seed, groups, metrics
    curves: dict[str, dict[str, list[tuple[int, float]]]] = field(default_factory=dict)  # run -> metric -> steps
    children: list[dict] = field(default_factory=list)  # the child runs as the store gave them (tags included)
    metrics: Registry = field(default_factory=Registry)  # ablate's metrics and every task's the runs declared
    claims: list[Claim] = field(default_factory=list)  # the study's declared claims, as the sweep stored them
    references: list[Reference] = field(default_factory=list)
    speed: SpeedConfig = field(default_factory=SpeedConfig)  # how the speed metrics were derived
    design: Design = field(default_factory=Design.fixed)  # the looks of a sequential sweep (replicates=auto)
    arms: Arms | None = None  # the design whose arms the sweep trained (None: recorded by no sweeper)

    @property
    def replicated(self) -> bool:
        """Training seeds were swept (seed=0,1,2) or a job trained several (replicates=3): read
        from the runs' own seeds, so either way counts."""
        if REPLICATE in self.swept:
            return True
        if not len(self.runs):
            return False
        cells = [c for c in (*GROUPS, *self.factors) if c in self.runs]
        seeds = self.runs.groupby(cells, dropna=False)[REPLICATE].nunique() if cells else self.runs[REPLICATE].nunique()
        return bool((seeds > 1).any()) if cells else bool(seeds > 1)


def natural(value: object) -> tuple:
    """Sort key for parameter values as MLflow stores them (strings): numbers by value, the rest
    as text ('False' < 'True'), so 1e-3 sorts before 0.003 and 10 after 9."""
    text = str(value)
    try:
        return (0, float(text), text)
    except ValueError:
        return (1, 0.0, text)


def _same(a: str, b: str) -> bool:
    """An override value ('true', '1e-3') against a param value ('True', '0.001')."""
    if a.lower() == b.lower():
        return True
    try:
        return float(a) == float(b)
    except ValueError:
        return False


def _overrides(child: dict) -> dict[str, str]:
    """The job's own command-line overrides (tagged at start, so present even when the job failed
    before logging its params)."""
    try:
        items = json.loads(child["tags"].get("ablate.overrides", "[]"))
    except ValueError:
        return {}
    pairs = (re.sub(r"^[+~]+", "", str(o)).split("=", 1) for o in items)
    return {k: v for k, *rest in pairs for v in rest}


_OVERRIDE_KEY = {column: key for key, column in GROUP_KEYS.items()}


def _value(child: dict, column: str) -> str | None:
    if column in child["params"]:
        return child["params"][column]
    found = _overrides(child).get(_OVERRIDE_KEY.get(column, column))
    if found is None and column == "data.name":  # the data spec is tagged before anything can fail
        found = json.loads(tag(child["tags"], DATA_SPEC, "{}")).get("name")
    return found


def _fill(rows: list[dict], column: str, guessed: list[bool]) -> None:
    """Values not logged as params: the matching level seen in other runs (an override says 'true'
    where the param says 'True'), else the only value seen (an unswept key), else '?'."""
    logged = [r[column] for r, g in zip(rows, guessed, strict=True) if r[column] is not None and not g]
    known = sorted(set(logged), key=natural)
    for row, guess in zip(rows, guessed, strict=True):
        if row[column] is None:
            row[column] = known[0] if len(known) == 1 else "?"
        elif guess:
            row[column] = next((k for k in known if _same(row[column], k)), row[column])


def registry(children: list[dict]) -> Registry:
    """ablate's metrics, the built-in tasks', then those the runs' tasks declared (their tags)."""
    declared = [json.loads(tag(c["tags"], METRICS, "[]")) for c in children]
    return Registry(BUILTIN, [Metric.from_dict(m) for found in declared for m in found])


def study_claims(tracker: Tracker, parent: dict) -> tuple[list[Claim], list[Reference], SpeedConfig, Arms | None]:
    """The claims, reference tables, speed measures and design the sweep stored with its parent run
    (an artifact); a store written before claims were declared: the set its report was judged by then."""
    if any(a == STUDY for a in tracker.list_artifacts(parent["run_id"], STUDY.split("/")[0])):
        with tempfile.TemporaryDirectory() as folder:
            node = json.loads(tracker.download(parent["run_id"], STUDY, Path(folder)).read_text())
    else:
        node = load_set(LEGACY_SET)
    speed = SpeedConfig(**(node.get("speed") or {}))
    arms = from_dict(node[ARMS]) if node.get(ARMS) else None  # recorded by the sweeper that ran a design
    return parse_claims(node.get("claims")), parse_references(node.get("references")), speed, arms


def design(parent: dict) -> Design:
    """The looks of a sequential sweep, as its sweeper tagged them (ablate.sweep.rounds); else one."""
    text = parent["tags"].get(SEQUENTIAL)
    if not text:
        return Design.fixed()
    d = json.loads(text)
    return Design.rounds(int(d["min"]), int(d["max"]), int(d["step"]))


def _speed(row: dict, losses: list[float], ceiling: int, speed: SpeedConfig) -> None:
    """The run's speed metrics, from its eval-loss curve (ablate/evaluate/speed.py)."""
    row[AUC] = loss_auc(losses, speed.horizon, ceiling)
    if speed.threshold is not None:
        row[TO_LOSS] = epochs_to_loss(losses, speed.threshold, ceiling)


def _converged_ceiling(children: list[dict]) -> int:
    """The one ceiling the speed metrics of the sweep's trainer.stop=converged runs are censored at:
    the highest they had. A run reused from a lower ceiling (it converged below it, and is the same
    run under this one) would otherwise count "never reached the threshold" as its own ceiling + 1."""
    ceilings = [int(float(c["params"][CEILING])) for c in children if converges(c["params"]) and CEILING in c["params"]]
    return max(ceilings, default=0)


def collect(tracker: Tracker, parent_id: str) -> Study:
    parent = tracker.run(parent_id)
    children = tracker.members(parent["experiment_id"], parent_id)
    reg = registry(children)
    curves_of = reg.names(per_epoch=True)
    swept = json.loads(parent["tags"].get("ablate.factors", "[]"))
    keys = [k.lstrip("+~") for k in swept]  # +model.x=a,b sweeps model.x: its runs' param
    factors = [k for k in dict.fromkeys(keys) if k != REPLICATE and k not in GROUP_KEYS and k not in GROUPS]
    keys = [*factors, REPLICATE, *GROUPS]
    rows, guessed, curves = [], {k: [] for k in keys}, {}
    claims, references, speed, arms = study_claims(tracker, parent)
    converged = _converged_ceiling(children)
    for child in children:
        run_id = child["run_id"]
        row = {
            "run_id": run_id,
            "name": child["name"],
            "status": child["status"],
            "error": child["tags"].get("ablate.error", ""),
        }
        if child["tags"].get(JOB_LOG) and child["status"] != "FINISHED":  # a cluster job's log, where it failed
            row["log"] = child["tags"][JOB_LOG]
        for column in keys:
            row[column] = _value(child, column)
            guessed[column].append(column not in child["params"])
        curves[run_id] = {}
        for key in curves_of:
            if key in child["metrics"]:
                # the final value may be logged again at the last step: keep one value per step
                curves[run_id][key] = sorted(dict(tracker.history(run_id, key)).items())
        row.update(child["metrics"])
        if curves[run_id].get("eval_loss") and child["status"] == "FINISHED":
            losses = [v for _, v in curves[run_id]["eval_loss"]]
            row[EARLY] = losses[0]
            params = child["params"]
            ceiling = converged if converges(params) else int(float(params.get(CEILING, len(losses))))
            _speed(row, losses, ceiling, speed)
        rows.append(row)
    for column in keys:
        _fill(rows, column, guessed[column])
    logs = ["log"] if any("log" in r for r in rows) else []
    base = ["run_id", "name", "status", "error", *logs, *factors, REPLICATE, *GROUPS]
    runs = pd.DataFrame(rows, columns=base + sorted({k for r in rows for k in r} - set(base)))
    order = [*GROUPS, *factors, REPLICATE, "run_id"]
    runs = runs.sort_values(order, key=lambda s: s.map(natural), kind="stable").reset_index(drop=True)
    experiment = tracker.experiment_name(parent["experiment_id"])
    return Study(
        parent, experiment, swept, factors, runs, curves, children, reg, claims, references, speed, design(parent), arms
    )
