"""`replicates=auto`: training seeds added in rounds, only where a declared claim is still open.

Round 1 trains every cell of the grid with `sequential.min` seeds. After each round the report's
own code judges the claims from the tracking store (ablate/report: the same verdicts the report
prints); every deciding effect of a claim still undecided (inconclusive: neither supported,
contradicted nor shown absent) asks for the next look above its n for ALL the cells it reads,
since a paired contrast uses the seeds its cells share (a main effect or an interaction needs its
cells topped up together). The next round's jobs are those cells with `replicates=<their target>`:
the seeds they have are found finished and reused, the new ones train. The sweep stops when every
claim is decided, when the open ones are at `sequential.max`, or when a round adds nothing.

Convergence does not stop the rounds: a claim whose intervals decide it needs no more seeds, even
while its verdict waits, provisional, for converged training (trainer.stop=converged).

Rounds are jobs of the same sweep under the same parent run, through whichever launcher the sweep
uses (hydra_plugins/ablate_sweeper). Decisions read only the store, so rerunning the command
replays them: the same rounds, each finding its runs finished, nothing added; a killed round
resumes where it stopped. The looks are fixed in advance by (min, max, step), and the intervals hold
over all of them (ablate/report/sequential.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from ablate.config import ConfigError
from ablate.config.root import AUTO
from ablate.report.analysis import analyze
from ablate.report.collect import GROUPS, collect
from ablate.report.sequential import DECIDED, Design
from ablate.sweep.design import ABLATE_SWEEPER
from ablate.tracking.store import Tracker

REPLICATES = "replicates"

Key = tuple[tuple[str, str], ...]  # a cell: (column, level) pairs, task and dataset included


def check_rounds(judged: list[str], sweeper_target: str, choices: dict) -> None:
    """Before anything runs: `replicates=auto` needs a claim to decide and the sweeper that runs rounds."""
    if not judged:
        raise ConfigError(
            "replicates=auto: no declared claim is judged by this sweep, so nothing decides when to stop adding "
            "seeds (allowed: a claim set whose claims this sweep tests, e.g. claims=unet with model.skip and "
            "model.bottleneck swept; or replicates=N)"
        )
    if not sweeper_target.endswith(ABLATE_SWEEPER):
        raise ConfigError(
            f"replicates=auto: hydra/sweeper={choices.get('hydra/sweeper')} does not add seeds in rounds "
            "(allowed: hydra/sweeper=ablate, the default; or replicates=N)"
        )


def check_single(cfg) -> None:
    """A single run (no -m) has no rounds."""
    if cfg.replicates == AUTO:
        raise ConfigError(
            "replicates=auto adds seeds in rounds of a sweep (allowed: with -m, python -m ablate -m ... "
            "replicates=auto; or replicates=N)"
        )


def targets(needs: list[tuple[list[Key], int]], design: Design) -> dict[Key, int]:
    """The seeds each cell needs after the next round: the cells of every undecided effect
    together, at the next look above the effect's n; nothing beyond the last look."""
    out: dict[Key, int] = {}
    for cells, n in needs:
        step = next((look for look in design.looks if look > n), None)
        for cell in cells if step is not None else []:
            out[cell] = max(out.get(cell, 0), step)
    return out


@dataclass
class Plan:
    """What the store says after a round: each cell to top up (its job's overrides and its target),
    the claims still open."""

    jobs: list[tuple[list[str], int]] = field(default_factory=list)
    open: list[str] = field(default_factory=list)


def plan(tracker: Tracker, parent: str, design: Design, have: dict[str, int], first: int) -> Plan:
    """Judge the claims on the seeds the rounds so far asked for (`have`: a cell's job, as the JSON of
    its overrides, -> its seeds; `first`: the first seed), the next round's jobs. Seeds beyond those
    (a rerun finds the later rounds' runs in the store) are left out, so a rerun replays the same
    decisions round by round."""
    study = collect(tracker, parent)
    jobs = _overrides_by_cell(study)
    limit = {key: have.get(json.dumps(job), 0) for key, job in jobs.items()}
    rows = study.runs.to_dict("records")
    keep = [int(float(row["seed"])) - first < limit.get(_key(row, study.factors), 0) for row in rows]
    study.runs = study.runs[keep].reset_index(drop=True)
    needs, still = [], []
    for s in analyze(study):
        for claim in s.claims:
            if claim["decided"] in DECIDED:
                continue
            still.append(f"claim {claim['claim']} ({claim['id']})")
            for cells, n in claim["needs"]:
                keys = [((GROUPS[0], s.task), (GROUPS[1], s.data), *sorted(c.items())) for c in cells]
                needs.append((keys, n))
    todo = [(jobs[key], n) for key, n in targets(needs, design).items() if key in jobs and n > limit[key]]
    return Plan(todo, still)


def _key(row: dict, factors: list[str]) -> Key:
    """A run's cell."""
    cell = tuple(sorted((c, str(row[c])) for c in factors))
    return ((GROUPS[0], str(row[GROUPS[0]])), (GROUPS[1], str(row[GROUPS[1]])), *cell)


def _overrides_by_cell(study) -> dict[Key, list[str]]:
    """Each cell's job, as the overrides its runs were started with (without `replicates=`)."""
    tags = {c["run_id"]: c["tags"].get("ablate.overrides") for c in study.children}
    out: dict[Key, list[str]] = {}
    for row in study.runs.to_dict("records"):
        text = tags.get(row["run_id"])
        if text:
            out.setdefault(_key(row, study.factors), without(json.loads(text)))
    return out


def without(overrides: list[str]) -> list[str]:
    """A job's overrides without its number of replicates (the round sets it)."""
    return [o for o in overrides if o.split("=", 1)[0].lstrip("+~") != REPLICATES]
