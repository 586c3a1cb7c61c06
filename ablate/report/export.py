"""Every number of the report as files beside the markdown: results.csv (one row per run),
cells.csv (every cell summary), effects.csv (every effect and test) and results.json (all of it).

Numbers are rounded to 6 significant digits so the files compare equal across platforms whose
last floating-point bits differ; NaN is written as an empty CSV field or JSON null."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

from ablate.report.analysis import Section
from ablate.report.collect import Study
from ablate.report.tables import present, summaries


def _num(x):
    if isinstance(x, (bool, int)) or not isinstance(x, float):
        return x
    if not math.isfinite(x):
        return None
    return 0.0 if abs(x) < 1e-12 else float(f"{x:.6g}")  # a zero difference's rounding residue is 0


def _clean(obj):
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    return _num(obj.item() if hasattr(obj, "item") else obj)


def _cells(section: Section) -> list[dict]:
    reg = section.reg
    metrics = present(
        section.grid, [*reg.names(table="cluster"), *reg.names(table="quality"), *reg.names(table="cost")]
    )
    out = [
        {
            "arm": cell.label,
            "values": cell.values,
            "status": cell.status(),
            "finished": cell.n,
            "expected": cell.expected,
            "metrics": summaries(cell, metrics),
        }
        for cell in section.grid.cells
    ]
    if section.baseline:
        metrics = {k: {"mean": v} for k, v in section.baseline.items()}
        out.append({"arm": "raw pixels", "values": {}, "status": "k-means only", "metrics": metrics})
    return out


def _effects(section: Section) -> list[dict]:
    return [
        {
            "metric": e.metric,
            "kind": e.kind,
            "comparison": e.label,
            "factor": e.factor,
            "low": e.low,
            "high": e.high,
            "other": e.other,
            "given": e.given,
            "at": ", ".join(f"{k}={v}" for k, v in e.at.items()),  # a design's: the other components' levels
            "aliases": " = ".join(e.aliases),  # a fraction's: what it is confounded with
            "test": e.detail or e.test.kind,  # an omnibus test: its method, statistic and df in words
            **{k: getattr(e.test, k) for k in ("estimate", "ci_low", "ci_high", "df", "t", "p", "p_holm", "n")},
        }
        for e in section.effects
    ]


def document(study: Study, sections: list[Section], command: str) -> dict:
    parent = study.parent
    return _clean(
        {
            "experiment": study.experiment,
            "parent": {
                "run_id": parent["run_id"],
                "name": parent["name"],
                "command": command,
                "params": dict(sorted(parent["params"].items())),
            },
            "factors": study.factors,
            "replicated": study.replicated,
            "sections": [
                {
                    "task": s.task,
                    "data": s.data,
                    "cells": _cells(s),
                    "effects": _effects(s),
                    "claims": [
                        {k: c[k] for k in ("claim", "id", "text", "verdict", "decided", "n", "line", "sizes")}
                        for c in s.claims
                    ],
                }
                for s in sections
            ],
            "runs": study.runs.to_dict(orient="records"),
        }
    )


def _write_csv(path: Path, rows: list[dict]) -> None:
    columns = list(dict.fromkeys(k for r in rows for k in r))
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows({k: "" if r.get(k) is None else r[k] for k in columns} for r in rows)


def cell_table(doc: dict) -> list[dict]:
    """cells.csv's rows: one per cell and metric (a document's sections, flattened)."""
    rows = []
    for s in doc["sections"]:
        for c in s["cells"]:
            for metric, summary in c["metrics"].items():
                row = {"task": s["task"], "data": s["data"], "arm": c["arm"], **c["values"]}
                row |= {"status": c["status"], "metric": metric}
                rows.append({**row, **summary})
    return rows


def effect_table(doc: dict) -> list[dict]:
    """effects.csv's rows: one per effect of each section."""
    return [
        {
            "task": s["task"],
            "data": s["data"],
            **{k: v for k, v in e.items() if k != "given"},
            "given": ", ".join(f"{k}={v}" for k, v in e["given"].items()),
        }
        for s in doc["sections"]
        for e in s["effects"]
    ]


def write(out: Path, study: Study, sections: list[Section], command: str) -> None:
    doc = document(study, sections, command)
    (out / "results.json").write_text(json.dumps(doc, indent=1, sort_keys=True, allow_nan=False) + "\n")
    _write_csv(out / "results.csv", doc["runs"] or [{c: None for c in study.runs.columns}])
    cells, effects = cell_table(doc), effect_table(doc)
    _write_csv(out / "cells.csv", cells or [{"task": None}])
    _write_csv(out / "effects.csv", effects or [{"task": None}])
