"""What a job hands back: one result for the launcher (a sweeper reads its status and metrics)
and, for a single run, what it prints: the metrics, or each replicate's and their mean ± std."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np

from ablate.tracking import redact

DONE = ("FINISHED", "SKIPPED")


def cell_status(statuses: list[str]) -> str:
    """A cell's status from its replicates': FAILED if any failed, PRUNED if any was pruned,
    SKIPPED if all were already done, else FINISHED."""
    for status in ("FAILED", "PRUNED"):
        if status in statuses:
            return status
    return "SKIPPED" if statuses and all(s == "SKIPPED" for s in statuses) else "FINISHED"


def mean_metrics(results: list[dict[str, Any]]) -> dict[str, float]:
    """Each metric's mean over the replicates that finished (what a search's objective reads)."""
    done = [r["metrics"] for r in results if r["status"] in DONE]
    keys = sorted(set().union(*done)) if done else []
    return {k: float(np.mean([m[k] for m in done if k in m])) for k in keys}


def summary(results: list[dict[str, Any]], arm: str, multirun: bool, uri: str) -> dict[str, Any]:
    status = cell_status([r["status"] for r in results])
    out = {"status": status, "run_id": results[0]["run_id"], "run_ids": [r["run_id"] for r in results]}
    out.update({"metrics": mean_metrics(results), "replicates": results})
    failed = [r for r in results if r["status"] == "FAILED"]
    if failed:
        out["error"] = f"{len(failed)} of {len(results)} replicates failed: {failed[0].get('error', '')}"
    if "PRUNED" in [r["status"] for r in results]:
        out["epoch"] = min(r["epoch"] for r in results if r["status"] == "PRUNED")
    if not multirun and status in DONE:
        print(_table(results) if len(results) > 1 else json.dumps(_rounded(results[0]["metrics"]), indent=1))
        print(f"mlflow run{'s' if len(results) > 1 else ''}: {' '.join(out['run_ids'])} ({redact(uri)})")
    return out


def _rounded(metrics: dict[str, float]) -> dict[str, float]:
    return {k: round(v, 6) for k, v in sorted(metrics.items())}


def _table(results: list[dict[str, Any]]) -> str:
    """metric | seed s ... | mean ± std (sample std, ddof 1)."""
    keys = sorted(set().union(*(r["metrics"] for r in results)))
    header = ["metric", *(f"seed {r['seed']}" for r in results), "mean ± std"]
    rows = []
    for key in keys:
        values = [r["metrics"].get(key, math.nan) for r in results]
        spread = f"{np.mean(values):.6g} ± {np.std(values, ddof=1):.2g}"
        rows.append([key, *(f"{v:.6g}" for v in values), spread])
    widths = [max(len(str(c)) for c in column) for column in zip(header, *rows, strict=True)]
    return "\n".join("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)) for row in [header, *rows])
