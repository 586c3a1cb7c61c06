"""Everything computed for one task and dataset, once, for the markdown and the CSV/JSON alike."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from ablate.config.design import Arms
from ablate.config.metrics import CLUSTERING, Registry
from ablate.config.stop import MIN_DELTA, PATIENCE
from ablate.engine.convergence import Rule
from ablate.report import claims
from ablate.report.collect import GROUPS, Study, natural
from ablate.report.designs import estimate
from ablate.report.effects import Effect, Grid, grid
from ablate.report.references import Lookup
from ablate.report.sequential import Family
from ablate.report.tables import present


@dataclass
class Section:
    task: str
    data: str
    rows: pd.DataFrame  # the section's runs, every status
    grid: Grid
    baseline: dict[str, float] | None  # raw-pixel k-means scores of this dataset, if logged
    effects: list[Effect]
    claims: list[dict]  # each judged claim (claims.Judged.as_dict)
    reg: Registry
    refs: Lookup | None  # the reference table that covers this task and dataset, if any
    converged: dict[str, bool]  # cell label -> its arm converged (ablate/engine/convergence.py)
    family: Family  # the deciding effects of the whole report, judged together
    arms: Arms | None = None  # the sweep's design (ablate/config/design.py), None when none was recorded

    @property
    def tag(self) -> str:
        """A file-name-safe id of the section for its PNGs."""
        return "".join(ch if ch.isalnum() else "_" for ch in f"{self.task}_{self.data}").lower()


def baseline(parent: dict, data: str) -> dict[str, float] | None:
    """The parent run's baseline_* metrics for this dataset: suffixed with _<data> when the sweep
    used several datasets, else unsuffixed (then tagged ablate.baseline_data = the dataset)."""
    metrics, tags = parent["metrics"], parent["tags"]
    for suffix in (f"_{data}", ""):
        if f"baseline_purity_mean{suffix}" not in metrics:
            continue
        if suffix == "" and tags.get("ablate.baseline_data", data) != data:
            continue
        return {k: metrics[f"baseline_{k}{suffix}"] for k in CLUSTERING if f"baseline_{k}{suffix}" in metrics}
    return None


def rule_of(params: dict[str, str]) -> Rule:
    """The convergence rule a run was trained and is judged by (its logged trainer params)."""
    return Rule(int(params.get("trainer.patience", PATIENCE)), float(params.get("trainer.min_delta", MIN_DELTA)))


def converged(study: Study, g: Grid) -> dict[str, bool]:
    """Each cell's arm: converged when the rule (ablate/engine/convergence.py, with the runs' own
    patience and min_delta) holds at the last epoch of every finished run."""
    out = {}
    params = {c["run_id"]: c["params"] for c in study.children}
    for cell in g.cells:
        runs = list(cell.finished["run_id"])
        ok = bool(runs)
        for run_id in runs:
            losses = [v for _, v in study.curves.get(run_id, {}).get("eval_loss", [])]
            ok = ok and rule_of(params.get(run_id, {})).holds(losses)
        out[cell.label] = ok
    return out


def analyze(study: Study) -> list[Section]:
    sections = []
    if study.runs.empty:
        return sections
    keys = sorted(study.runs.groupby(list(GROUPS)).groups, key=lambda k: [natural(v) for v in k])
    scopes = []
    # the design's components are the report's factors (else: an older store, or keys crossed that the
    # report reads as factors, e.g. sweep=a,b: the grid of what ran)
    arms = study.arms if study.arms is not None and set(study.arms.keys) == set(study.factors) else None
    for task, data in keys:
        rows = study.runs[(study.runs[GROUPS[0]] == task) & (study.runs[GROUPS[1]] == data)]
        g = grid(rows, study.factors, arms)
        base = baseline(study.parent, str(data))
        reg = study.metrics
        found = estimate(g, present(g, reg.names(tested=True)), base, arms)
        refs = Lookup.find(study.references, str(task), str(data), CLUSTERING[0])  # its column: purity
        scope = claims.Scope(str(task), str(data), g, found, study.references, reg, converged(study, g), arms=arms)
        scopes.append((rows, base, refs, scope))
    # one family: every deciding effect of every claim judged in any section (ablate/report/sequential.py)
    family = Family(sum(claims.family_size(study.claims, s) for *_, s in scopes), study.design)
    for rows, base, refs, scope in scopes:
        scope.family = family
        judged = [j.as_dict() for j in claims.verdicts(study.claims, scope)]
        sections.append(
            Section(
                scope.task,
                scope.data,
                rows,
                scope.grid,
                base,
                scope.effects,
                judged,
                scope.reg,
                refs,
                scope.converged,
                family,
                arms,
            )
        )
    return sections
