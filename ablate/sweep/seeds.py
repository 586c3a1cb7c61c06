"""The seeds a command's jobs train: no seed trained twice by two jobs of the same cell."""

from __future__ import annotations

from typing import Any

from ablate.config import ConfigError, flatten
from ablate.config.root import AUTO
from ablate.config.stop import CEILING, converges
from ablate.job.fingerprint import neutral


def _all_but(flat: dict[str, Any], key: str) -> str:
    """What a job computes, but `key`: its flat config's keys that change numbers (ablate/job/
    fingerprint.py), as one comparable text."""
    return repr(sorted((k, v) for k, v in flat.items() if k != key and not neutral(k)))


def check_seeds(jobs: list[Any]) -> None:
    """Jobs that differ only in their seeds must not train the same seed twice: seed=0,1,2 with
    replicates=3 would train seeds 1 and 2 two and three times over."""
    taken: dict[str, list[tuple[int, int]]] = {}
    for job in jobs:
        flat = flatten(job.cfg)
        auto = flat["replicates"] == AUTO  # at most sequential.max seeds
        first, count = int(flat["seed"]), int(flat["sequential.max"] if auto else flat["replicates"])
        key = _all_but(flat, "seed")
        for other, n in taken.setdefault(key, []):
            if not (other < first + count and first < other + n):
                continue
            raise ConfigError(
                f"seed={other} and seed={first} with replicates={count} train seeds {max(other, first)}.."
                f"{min(other + n, first + count) - 1} twice (allowed: seeds spaced by replicates, e.g. "
                f"seed=0,{count},{2 * count}; or one job with more replicates)"
            )
        taken[key].append((first, count))


def check_ceilings(jobs: list[Any]) -> None:
    """Under trainer.stop=converged the ceiling is no factor: a replicate that converges is the same
    run under any ceiling it converges below (ablate/job/fingerprint.py), so arms that differ only
    in trainer.epochs would share their runs."""
    ceilings: dict[str, set[int]] = {}
    for job in jobs:
        flat = flatten(job.cfg)
        if converges(flat):
            ceilings.setdefault(_all_but(flat, CEILING), set()).add(int(flat[CEILING]))
    for found in ceilings.values():
        if len(found) > 1:
            raise ConfigError(
                f"trainer.epochs={','.join(map(str, sorted(found)))} with trainer.stop=converged: the ceiling is no "
                "factor, a replicate that converges is the same run under either (allowed: one trainer.epochs; "
                "trainer.stop=epochs to compare training lengths)"
            )
