"""What a sweep prints at its end: its arms, one line each, with their key metrics (what a job
prints, its start and end lines and a single run's results, is ablate/job/lines.py)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ablate.config.metrics import Metric
from ablate.job.lines import aligned
from ablate.report.collect import registry


def arm_factors(factors: list[str]) -> list[str]:
    """A sweep's swept keys that make its arms (`+`/`~` stripped; seeds are replicates, not arms)."""
    return [k.lstrip("+~") for k in factors if k.lstrip("+~") != "seed"]


def key_metrics(runs: list[dict[str, Any]]) -> list[Metric]:
    """The key metrics (the registry's, with those the runs' tasks declared) that some finished run
    has, headline first."""
    done = [r["metrics"] for r in runs if r["status"] == "FINISHED"]
    return [m for m in registry(runs) if m.key and any(m.name in d for d in done)]


def _arms(runs: list[dict[str, Any]], factors: list[str]) -> dict[str, tuple[dict[str, str], list[dict]]]:
    """{arm label: (its factors' values, its runs)}, sorted by label."""
    arms: dict[str, tuple[dict[str, str], list[dict]]] = {}
    for run in runs:
        params = run["params"]  # a group factor (data=mnist) is its option's name
        values = {k: str(params.get(k, params.get(f"{k}.name", "?"))) for k in arm_factors(factors)}
        label = " ".join(f"{k.split('.')[-1]}={v}" for k, v in values.items()) or run["name"].split(" seed=")[0]
        arms.setdefault(label, (values, []))[1].append(run)
    return dict(sorted(arms.items()))


def _values(group: list[dict], key: str) -> list[float]:
    return [r["metrics"][key] for r in group if r["status"] == "FINISHED" and key in r["metrics"]]


def sweep_table(runs: list[dict[str, Any]], factors: list[str], keys: list[Metric]) -> str:
    """The sweep's arms, one line each: runs finished of all, and each key metric's mean ± std
    over the arm's training seeds (the report has the intervals and tests). `keys`: key_metrics."""
    rows = [["arm", "finished", *(m.name for m in keys)]]
    for label, (_, group) in _arms(runs, factors).items():
        cells = []
        for m in keys:
            values = _values(group, m.name)
            std = f" ± {np.std(values, ddof=1):.2g}" if len(values) > 1 else ""
            cells.append(f"{np.mean(values):.4g}{std}" if values else "—")
        finished = sum(r["status"] == "FINISHED" for r in group)
        rows.append([label, f"{finished}/{len(group)}", *cells])
    return "\n".join(line.rstrip() for line in aligned(rows))


def arm_table(runs: list[dict[str, Any]], factors: list[str], keys: list[Metric]) -> pd.DataFrame:
    """The same arms as a table (the parent run's arms.json, which the UI shows as a table): the arm,
    its factors' values, runs finished and in all, each key metric's mean and std over training
    seeds. A column name keeps no '.' (the UI's table reads one as a path into the row: empty cells)."""
    rows = []
    for label, (values, group) in _arms(runs, factors).items():
        row: dict[str, Any] = {"arm": label, **{k.replace(".", "/"): v for k, v in values.items()}}
        row |= {"finished": sum(r["status"] == "FINISHED" for r in group), "runs": len(group)}
        for m in keys:
            v = _values(group, m.name)
            row[f"{m.name} mean"] = float(np.mean(v)) if v else None
            row[f"{m.name} std"] = float(np.std(v, ddof=1)) if len(v) > 1 else None
        rows.append(row)
    return pd.DataFrame(rows)
