"""What a job prints: its start and end lines, and, for a single run (not a sweep), its results:
the metrics, or each replicate's and their mean ± std, and the runs that hold them."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np

from ablate.job.contract import ReplicateResult
from ablate.tracking.store import redact


def job_start(arm: str, seeds: list[int], epochs: int) -> str:
    which = f"seed {seeds[0]}" if len(seeds) == 1 else f"seeds {seeds[0]}-{seeds[-1]}"
    return f"job {arm}: start ({which}, {epochs} epochs)"


def job_end(arm: str, replicates: list, results: list[ReplicateResult], seconds: float) -> str:
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
        elif getattr(getattr(rep, "plan", None), "continues", None):  # a lower ceiling's run, carried on
            groups.setdefault(f"went on from epoch {rep.resumed_epoch} (a lower ceiling's)", []).append(str(rep.seed))
        elif getattr(rep, "resumed_epoch", None) is not None:  # its own checkpoint, or its pack's
            groups.setdefault(f"resumed from epoch {rep.resumed_epoch}", []).append(str(rep.seed))
        else:
            groups.setdefault("trained", []).append(str(rep.seed))
    parts = [f"seed{'s' if len(seeds) > 1 else ''} {', '.join(seeds)} {what}" for what, seeds in groups.items()]
    runs = f": reusing run{'s' if len(reused) > 1 else ''} {', '.join(reused)}"
    parts = [p + (runs if p.endswith(" skipped") else "") for p in parts]
    return redact(f"job {arm}: {'; '.join(parts)} ({seconds:.0f} s)")


def results(results: list[ReplicateResult], uri: str) -> str:
    """A single run's results: its metrics (one replicate) or a table of them, then its runs."""
    shown = _table(results) if len(results) > 1 else json.dumps(_rounded(results[0]["metrics"]), indent=1)
    ids = " ".join(r["run_id"] for r in results)
    return f"{shown}\nmlflow run{'s' if len(results) > 1 else ''}: {ids} ({redact(uri)})"


def aligned(rows: list[list[Any]]) -> list[str]:
    """Rows as lines of left-aligned columns, two spaces apart."""
    widths = [max(len(str(c)) for c in column) for column in zip(*rows, strict=True)]
    return ["  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]


def _rounded(metrics: dict[str, float]) -> dict[str, float]:
    return {k: round(v, 6) for k, v in sorted(metrics.items())}


def _table(results: list[ReplicateResult]) -> str:
    """metric | seed s ... | mean ± std (sample std, ddof 1)."""
    keys = sorted(set().union(*(r["metrics"] for r in results)))
    header = ["metric", *(f"seed {r['seed']}" for r in results), "mean ± std"]
    rows = []
    for key in keys:
        values = [r["metrics"].get(key, math.nan) for r in results]
        spread = f"{np.mean(values):.6g} ± {np.std(values, ddof=1):.2g}"
        rows.append([key, *(f"{v:.6g}" for v in values), spread])
    return "\n".join(aligned([header, *rows]))
