"""The report's section for a hyper-parameter search (hydra/sweeper=optuna): which values each
arm's study found best. Read from the arms' tags alone, so a rebuild from the store
(`python -m ablate.report`) writes the same section as the sweep did."""

from __future__ import annotations

import json
from typing import Any

from ablate.report.markdown import table

STUDY = "ablate.optuna.study"  # the tag the sweeper puts on each arm's run


def best_params_section(children: list[dict[str, Any]], in_rounds: bool = False) -> list[str]:
    """Markdown lines for the report: per arm, its study, budget and the best values found;
    `in_rounds`: the sweep added seeds in rounds (replicates=auto) after the search."""
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
    if in_rounds:  # hydra_plugins/ablate_optuna_sweeper/_rounds.py
        lines += [
            "Seeds in rounds (`replicates=auto`): the search was the first round, and each arm's replicates "
            "are its best trial's seeds plus the seeds the rounds trained with its best values. The values "
            "were chosen on the best trial's seeds, which stay in the test, so an arm's effect on them may be "
            "flattered (the other seeds are free of that choice). The replicate-epochs above count the arms' "
            "seeds only, not the search's other trials.",
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
