"""A sweep's declared claims, checked before anything runs and stored with its parent run.

Preflight: every claim that covers a task and dataset the sweep runs must be one the report can
test. Its metrics are known (ablate's own, or declared by a task of the sweep), its factors are
swept (they take more than one value over the jobs), and the levels it names are among the swept
values. A claim marked `optional` is left out of a sweep that does not vary its factors instead
(a default claim set must not stop other studies). Anything else is one line naming the claim and
what is allowed, exit 2.

The parent run keeps the claims and reference tables as an artifact (ablate.tracking.tags.STUDY),
so `python -m ablate.report` judges them again from the store alone; rewording a claim retrains
nothing (claims are no run's setting: ablate.config.root.STUDY_KEYS).
"""

from __future__ import annotations

import json
from typing import Any

from omegaconf import DictConfig, OmegaConf

from ablate.config import ConfigError, flatten
from ablate.config.claims import Claim, Deciding, parse_claims, parse_references, same_level
from ablate.config.design import ARMS, Arms, why_not
from ablate.config.metrics import CLUSTERING, Registry
from ablate.config.root import STUDY_KEYS
from ablate.report.effects import MAX_LEVELS
from ablate.tasks.metrics import BUILTIN


def study_node(cfg: DictConfig) -> dict[str, Any]:
    """The study of a composed config (claims, reference tables, how speed is measured), as plain data."""
    node = {k: cfg.get(k) for k in STUDY_KEYS}
    return {
        k: OmegaConf.to_container(v, resolve=True) if OmegaConf.is_config(v) else (v or {}) for k, v in node.items()
    }


def study_json(cfg: DictConfig, arms: Arms | None = None) -> str:
    """The study as the parent run keeps it; with the sweep's design resolved over its components
    (its arms: ablate/config/design.py), so the report knows which cells exist."""
    node = study_node(cfg)
    if arms is not None:
        node[ARMS] = arms.as_dict()
    return json.dumps(node, indent=1)


def _levels(flats: list[dict[str, Any]], factor: str) -> list[str] | None:
    """The values a key takes over the jobs (as text), or None when it is no key of the config."""
    if not any(factor in f for f in flats):
        return None
    return list(dict.fromkeys(str(f.get(factor)) for f in flats))


def _untestable(claim: Claim, effect: Deciding, swept: list[str], flats: list[dict[str, Any]]) -> str | None:
    """Why the report could not estimate this effect from this sweep (None: it can)."""
    for factor, named in effect.levels().items():
        levels = _levels(flats, factor)
        if levels is None:
            return f"{factor} is no key of the config (a factor is a swept config key)"
        if factor not in swept or len(levels) < 2:
            example = ",".join(str(v).lower() for v in dict.fromkeys(named))
            return f"{factor} is not swept (swept: {', '.join(swept) or 'nothing'}; e.g. {factor}={example})"
        missing = [v for v in named if not any(same_level(v, seen) for seen in levels)]
        if missing:
            return f"{factor}={missing[0]} is not in the sweep (allowed: {', '.join(levels)})"
        moved = [c.factor for c in (effect.change, effect.other) if c is not None]
        two = effect.kind in ("simple", "interaction") and factor in moved  # the report's two-level effects
        if (two and len(levels) != 2) or len(levels) > MAX_LEVELS:
            most = 2 if two else MAX_LEVELS
            return f"{factor} has {len(levels)} levels: the report estimates this effect for at most {most}"
    if effect.kind == "baseline" and set(effect.cell) != set(swept):
        return f"a baseline cell names every factor of the sweep (allowed: {', '.join(swept)})"
    return None


def _check(claim: Claim, flats: list[dict[str, Any]], swept: list[str], reg: Registry, arms: Arms | None) -> bool:
    at = f"claims.{claim.id}"
    tested = reg.names(tested=True)
    for effect in claim.effects:
        if effect.metric not in tested:
            raise ConfigError(
                f"{at}: metric {effect.metric} has no effects in the report (allowed: {', '.join(tested)})"
            )
        if effect.kind == "baseline" and effect.metric not in CLUSTERING:
            allowed = ", ".join(m for m in CLUSTERING if m in tested)
            raise ConfigError(f"{at}: only the latent's clustering has a raw-feature baseline (allowed: {allowed})")
        why = _untestable(claim, effect, swept, flats) or (why_not(arms, effect) if arms is not None else None)
        if why and claim.optional:
            return False  # not tested by this sweep: the report leaves it out
        if why:
            raise ConfigError(f"{at}: {why}")
    return True


def parse_study(cfg: DictConfig) -> list[Claim]:
    """The config's claims; malformed claims or reference tables fail here (one line), not in the report."""
    node = study_node(cfg)
    parse_references(node["references"])
    return parse_claims(node["claims"])


def check_claims(cfgs: list[DictConfig], swept: list[str], declared: tuple = (), arms: Arms | None = None) -> list[str]:
    """One line, before anything runs, for a declared claim the sweep's report could not test.
    `swept`: the sweep's swept keys (task, data and seed are not factors); `declared`: the metrics
    its tasks declare; `arms`: the sweep's design (which effects it estimates). The ids of the claims
    the report will judge."""
    if not cfgs:
        return []
    claims = parse_study(cfgs[0])
    reg = Registry(BUILTIN, declared)
    factors = [k for k in swept if k not in ("seed", "task", "data")]
    jobs = [(str(c.task.get("name")), str(c.data.get("name")), flatten(c)) for c in cfgs]  # each flattened once
    judged = []
    for claim in claims:
        mine = [flat for task, data, flat in jobs if claim.where.covers(task, data)]
        if mine:
            if _check(claim, mine, factors, reg, arms):
                judged.append(claim.id)
        elif not claim.optional:
            runs = sorted({f"task={task} data={data}" for task, data, _ in jobs})
            where = claim.where
            raise ConfigError(
                f"claims.{claim.id}: applies to task {list(where.task) or 'any'}, data {list(where.data) or 'any'}; "
                f"this sweep runs {', '.join(runs)}"
            )
    return judged
