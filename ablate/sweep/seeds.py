"""The seeds a command's jobs train: no seed trained twice by two jobs of the same cell."""

from __future__ import annotations

from typing import Any

from ablate.config import ConfigError, flatten
from ablate.config.root import AUTO
from ablate.job.fingerprint import neutral


def check_seeds(jobs: list[Any]) -> None:
    """Jobs that differ only in their seeds must not train the same seed twice: seed=0,1,2 with
    replicates=3 would train seeds 1 and 2 two and three times over."""
    taken: dict[str, list[tuple[int, int]]] = {}
    for job in jobs:
        flat = flatten(job.cfg)
        auto = flat["replicates"] == AUTO  # at most sequential.max seeds
        first, count = int(flat["seed"]), int(flat["sequential.max"] if auto else flat["replicates"])
        rest = {k: v for k, v in flat.items() if k != "seed" and not neutral(k)}
        key = repr(sorted(rest.items()))
        for other, n in taken.setdefault(key, []):
            if not (other < first + count and first < other + n):
                continue
            raise ConfigError(
                f"seed={other} and seed={first} with replicates={count} train seeds {max(other, first)}.."
                f"{min(other + n, first + count) - 1} twice (allowed: seeds spaced by replicates, e.g. "
                f"seed=0,{count},{2 * count}; or one job with more replicates)"
            )
        taken[key].append((first, count))
