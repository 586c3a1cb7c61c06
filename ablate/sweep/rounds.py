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
uses: `run_rounds` is the loop, and a sweeper that runs rounds (class attribute `ROUNDS = True`)
hands it how one round is launched: the design's arms (hydra_plugins/ablate_sweeper), or an Optuna
search whose tuned arms are then topped up (hydra_plugins/ablate_optuna_sweeper/_rounds.py).
Decisions read only the store, so rerunning the command replays them: the same rounds, each
finding its runs finished, nothing added; a killed round resumes where it stopped. The looks are
fixed in advance by (min, max, step), and the intervals hold over all of them
(ablate/report/sequential.py).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ablate.config import ConfigError
from ablate.config.root import AUTO
from ablate.job.contract import ENV_EXPERIMENT, ENV_PARENT, ENV_URI
from ablate.report.analysis import analyze
from ablate.report.collect import GROUPS, collect
from ablate.report.sequential import DECIDED, Design
from ablate.sweep.callbacks import log_baselines
from ablate.tracking.store import Tracker, redact
from ablate.tracking.tags import ROUNDS, SEQUENTIAL

REPLICATES = "replicates"

Key = tuple[tuple[str, str], ...]  # a cell: (column, level) pairs, task and dataset included


def check_rounds(judged: list[str], sweeper: type | None, choices: dict) -> None:
    """Before anything runs: `replicates=auto` needs a claim to decide and a sweeper that runs rounds
    (`sweeper`: its class, whose attribute ROUNDS says so)."""
    if not judged:
        raise ConfigError(
            "replicates=auto: no declared claim is judged by this sweep, so nothing decides when to stop adding "
            "seeds (allowed: a claim set whose claims this sweep tests, e.g. claims=unet with model.skip and "
            "model.bottleneck swept; or replicates=N)"
        )
    if not getattr(sweeper, "ROUNDS", False):
        raise ConfigError(
            f"replicates=auto: hydra/sweeper={choices.get('hydra/sweeper')} does not add seeds in rounds "
            "(allowed: hydra/sweeper=ablate, the default, or optuna; or replicates=N)"
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
    # replicates only: a run with no seed (a job lost before it started one, an arm whose search
    # completed no trial) records a failure and is no seed of its cell
    study.runs = study.runs[[_seed(row) is not None for row in study.runs.to_dict("records")]]
    jobs = _overrides_by_cell(study)
    limit = {key: have.get(cell_key(job), 0) for key, job in jobs.items()}
    rows = study.runs.to_dict("records")
    keep = [_seed(row) - first < limit.get(_key(row, study.factors), 0) for row in rows]
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


Launch = Callable[[list[tuple[list[str], int]]], Any]  # one round: each cell's job and its seeds


def run_rounds(config, cells: list[list[str]], launch: Launch, notes: list[str] | None = None) -> list[Any]:
    """replicates=auto: each cell (its job's overrides, without `replicates=`) first at the first
    look's seeds, then topped up where claims are open; `launch` runs one round and returns what
    it launched (kept per round). `notes`: what the sweeper could not do (a cell it could not top
    up), added to the record of how the rounds ended. The parent run records the design and the
    rounds (ablate.sequential, ablate.rounds) for the report."""
    seq = config.sequential
    design = Design.rounds(int(seq.min), int(seq.max), int(seq.step))
    tracker, parent = Tracker(os.environ[ENV_URI]), os.environ[ENV_PARENT]
    tracker.set_tags(parent, {SEQUENTIAL: json.dumps({"min": seq.min, "max": seq.max, "step": seq.step})})
    todo = [(job, design.looks[0]) for job in cells]
    done, returns, end, have = [], [], "", {}
    known = {cell_key(job): job for job in cells}
    while todo:
        have.update({cell_key(job): n for job, n in todo})
        returns.append(launch(todo))
        done.append({"round": len(done) + 1, "cells": len(todo), "seeds": max(n for _, n in todo)})
        print(f"round {len(done)}: {len(todo)} cell(s) at up to {done[-1]['seeds']} seeds", flush=True)
        # the raw-pixel baseline before the first decision (else only the sweep's end logs it): a
        # claim's effects, so the decisions, must be the same in the first run as in a rerun
        log_baselines(tracker, parent, tracker.members(os.environ[ENV_EXPERIMENT], parent), config)
        nxt = plan(tracker, parent, design, have, int(config.seed))
        todo = [(known[k], n) for job, n in nxt.jobs if (k := cell_key(job)) in known]
        if not nxt.open:
            end = "every claim decided"
        elif not todo:
            end = f"stopped at the maximum, n = {design.looks[-1]}, with {', '.join(nxt.open)} undecided"
        elif len(done) >= len(design.looks):  # a safety net: each look is one round at most
            end, todo = f"stopped after {len(done)} rounds with {', '.join(nxt.open)} undecided", []
    end = "; ".join([end, *(notes or [])])
    tracker.set_tags(parent, {ROUNDS: json.dumps({"rounds": done, "end": end})})
    print(f"rounds: {end}", flush=True)
    return returns


def cell_key(job: list[str]) -> str:
    """A cell's job as its runs' `ablate.overrides` tag holds it (redacted JSON): how the rounds and
    the store name the same cell."""
    return redact(json.dumps(job))


def _seed(row: dict) -> int | None:
    try:
        return int(float(row["seed"]))
    except (TypeError, ValueError):
        return None


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
