"""What a job hands back: one result for the launcher (a sweeper reads its status and metrics)
and, for a single run, what it prints: the metrics, or each replicate's and their mean ± std."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np

from ablate.report.collect import registry
from ablate.tracking.store import redact

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


def job_start(arm: str, seeds: list[int], epochs: int) -> str:
    which = f"seed {seeds[0]}" if len(seeds) == 1 else f"seeds {seeds[0]}-{seeds[-1]}"
    return f"job {arm}: start ({which}, {epochs} epochs)"


def job_end(arm: str, replicates: list, results: list[dict[str, Any]], seconds: float) -> str:
    """One line: what became of the job's replicates (trained, skipped, resumed, failed, pruned)."""
    groups: dict[str, list[str]] = {}
    reused: list[str] = []
    for rep, res in zip(replicates, results, strict=True):
        if res["status"] == "SKIPPED":
            groups.setdefault("skipped", []).append(str(rep.seed))
            reused.append(res["run_id"])
        elif res["status"] == "FAILED":
            reason = " ".join(str(res.get("error", "")).split())[:200]
            groups.setdefault(f"failed: {reason}", []).append(str(rep.seed))
        elif res["status"] == "PRUNED":
            groups.setdefault(f"pruned at epoch {res.get('epoch')}", []).append(str(rep.seed))
        elif getattr(rep, "resumed_epoch", None) is not None:  # its own checkpoint, or its pack's
            groups.setdefault(f"resumed from epoch {rep.resumed_epoch}", []).append(str(rep.seed))
        else:
            groups.setdefault("trained", []).append(str(rep.seed))
    parts = [f"seed{'s' if len(seeds) > 1 else ''} {', '.join(seeds)} {what}" for what, seeds in groups.items()]
    runs = f": reusing run{'s' if len(reused) > 1 else ''} {', '.join(reused)}"
    parts = [p + (runs if p.endswith(" skipped") else "") for p in parts]
    return redact(f"job {arm}: {'; '.join(parts)} ({seconds:.0f} s)")


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
    return "\n".join(_aligned([header, *rows]))


def _aligned(rows: list[list]) -> list[str]:
    """Rows as lines of left-aligned columns, two spaces apart."""
    widths = [max(len(str(c)) for c in column) for column in zip(*rows, strict=True)]
    return ["  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]


def arm_factors(factors: list[str]) -> list[str]:
    """A sweep's swept keys that make its arms (`+`/`~` stripped; seeds are replicates, not arms)."""
    return [k.lstrip("+~") for k in factors if k.lstrip("+~") != "seed"]


def key_metrics(runs: list[dict[str, Any]]) -> list[str]:
    """The key metrics (the registry's, with those the runs' tasks declared) that some finished run
    has, headline first."""
    done = [r["metrics"] for r in runs if r["status"] == "FINISHED"]
    return [k for k in registry(runs).names(key=True) if any(k in m for m in done)]


def sweep_table(runs: list[dict[str, Any]], factors: list[str]) -> str:
    """The sweep's arms, one line each: runs finished of all, and each key metric's mean ± std
    over the arm's training seeds (the report has the intervals and tests)."""
    arms: dict[str, list[dict[str, Any]]] = {}
    factors = arm_factors(factors)
    for run in runs:
        params = run["params"]  # a group factor (data=mnist) is its option's name
        values = [f"{k.split('.')[-1]}={params.get(k, params.get(f'{k}.name', '?'))}" for k in factors]
        arms.setdefault(" ".join(values) or run["name"].split(" seed=")[0], []).append(run)
    keys = key_metrics(runs)
    header = ["arm", "finished", *keys]
    rows = []
    for label, group in sorted(arms.items()):
        ok = [r["metrics"] for r in group if r["status"] == "FINISHED"]
        cells = []
        for key in keys:
            values = [m[key] for m in ok if key in m]
            std = f" ± {np.std(values, ddof=1):.2g}" if len(values) > 1 else ""
            cells.append(f"{np.mean(values):.4g}{std}" if values else "—")
        rows.append([label, f"{len(ok)}/{len(group)}", *cells])
    return "\n".join(line.rstrip() for line in _aligned([header, *rows]))
