"""Read a sweep back from the tracking store into a pandas table: one row per job."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pandas as pd

from ablate.tracking import Tracker

# swept keys that are not factors: seeds are replicates, task and data get tables of their own
REPLICATE, GROUPS = "seed", ("task.name", "data.name")


@dataclass
class Study:
    parent: dict
    factors: list[str]  # swept keys compared in the tables (generic: any config key)
    runs: pd.DataFrame  # one row per child run: run_id, status, factors, seed, groups, metrics
    curves: dict[str, dict[str, list[float]]] = field(default_factory=dict)  # run_id -> metric -> values

    @property
    def replicated(self) -> bool:
        return REPLICATE in self.swept

    @property
    def swept(self) -> list[str]:
        return json.loads(self.parent["tags"].get("ablate.factors", "[]"))


def collect(tracker: Tracker, parent_id: str) -> Study:
    parent = tracker.run(parent_id)
    children = tracker.children(parent["experiment_id"], parent_id)
    swept = json.loads(parent["tags"].get("ablate.factors", "[]"))
    factors = [k for k in swept if k != REPLICATE and k not in GROUPS]
    rows, curves = [], {}
    for child in children:
        row = {
            "run_id": child["run_id"],
            "name": child["name"],
            "status": child["status"],
            "error": child["tags"].get("ablate.error", ""),
        }
        for key in [*factors, REPLICATE, *GROUPS]:
            row[key] = child["params"].get(key, "?")
        row.update(child["metrics"])
        rows.append(row)
        curves[child["run_id"]] = {
            k: [v for _, v in tracker.history(child["run_id"], k)] for k in ("train_loss", "eval_loss")
        }
    runs = pd.DataFrame(rows)
    if runs.empty:
        runs = pd.DataFrame(columns=["run_id", "name", "status", "error", *factors, REPLICATE, *GROUPS])
    sort_keys = [*GROUPS, *factors, REPLICATE]
    runs = runs.sort_values(sort_keys, key=lambda s: s.astype(str), kind="stable").reset_index(drop=True)
    return Study(parent=parent, factors=factors, runs=runs, curves=curves)
