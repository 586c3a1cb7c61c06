"""The report's section for a hyper-parameter search (hydra/sweeper=optuna): which values each
arm's study found best. Read from the arms' tags alone, so a rebuild from the store
(`python -m ablate.report`) writes the same section as the sweep did."""

from __future__ import annotations

import json
from typing import Any

from ablate.report.markdown import table

STUDY = "ablate.optuna.study"  # the tag the sweeper puts on each arm's run


def best_params_section(children: list[dict[str, Any]]) -> list[str]:
    """Markdown lines for the report: per arm, its study, budget and the best values found."""
    arms = [c for c in children if c["tags"].get(STUDY)]
    if not arms:
        return []
    params = sorted({k for c in arms for k in json.loads(c["tags"].get("ablate.optuna.best_params", "{}"))})
    tags = arms[0]["tags"]
    lines = [
        "## Hyper-parameter search (Optuna)",
        "",
        f"Every arm was tuned by a study of its own over the same space and budget; the tables above show "
        f"each arm's best trial by `{tags.get('ablate.optuna.metric')}` ({tags.get('ablate.optuna.direction')}).",
        "",
    ]
    rows = []
    for c in arms:
        t = c["tags"]
        best = json.loads(t.get("ablate.optuna.best_params", "{}"))
        counts = ", ".join(f"{v} {k.lower()}" for k, v in json.loads(t.get("ablate.optuna.trials", "{}")).items())
        value = t.get("ablate.optuna.best_value")
        cells = [
            c["name"],
            f"`{t[STUDY]}`",
            counts or "none",
            t.get("ablate.optuna.best_trial", "—"),
            f"{float(value):.6g}" if value else "—",
            *(_show(best.get(p, "—")) for p in params),
        ]
        rows.append(cells)
    header = ["arm", "study", "trials", "best trial", "best value", *(f"`{p}`" for p in params)]
    return [*lines, *table(header, rows), ""]


def _show(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
