"""When has a model learned: one rule, read at two levels.

The rule: training has converged by epoch e when the last `patience` epochs improved the best eval
loss by at most `min_delta` of the whole descent before them:

    best(loss[1 .. e-p]) - best(loss[e-p+1 .. e])  <=  min_delta * (loss[1] - best(loss[1 .. e-p]))

(p = patience), so it needs at least `patience + 1` epochs. It reads the eval loss only (what the
verdicts are about: the held-out split), best values (one noisy epoch neither stops nor restarts a
run), and measures the last gain against the run's own descent since its first epoch: the same rule
for a loss that falls from 165 to 2 and one that falls from 96 to 0.2. It is deterministic: it
reads logged numbers, never a clock.

Why not the gain relative to the loss itself: an autoencoder with skips learns close to the
identity and its loss keeps halving long after its curve is flat (the mnist preset with skips and
bottleneck: 0.45 at epoch 60, 0.17 at 120, from 96 after epoch 1). With patience 5 and a 1%
relative gain, that arm never converged in 120 epochs while the arms without skips stopped at
55-71, so every claim that reads a skip arm would wait for ever. Measured against the descent
(patience 10, 0.2%), the three arms measured stop at epochs 60, 67 and 69 (reports/convergence.md).

- **Per replicate** (`trainer.stop=converged`): the engine's loop stops a replicate after the first
  epoch at which the rule holds (ablate/engine/train.py), and at `trainer.epochs` (the ceiling) at
  the latest.
- **Per arm** (the report): an arm has converged when the rule holds at the last epoch of every one
  of its finished runs, however they were trained (a fixed-length run is judged by the same rule
  at its end). A claim whose deciding arms have not converged gets no verdict (ablate/report/claims.py).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from ablate.config.root import TrainerConfig
from ablate.config.stop import CONVERGED, MIN_DELTA, PATIENCE


@dataclass(frozen=True)
class Rule:
    patience: int = PATIENCE  # epochs looked back
    min_delta: float = MIN_DELTA  # the gain, as a fraction of the descent so far, that still counts as learning

    @property
    def shortest(self) -> int:
        """The fewest epochs after which the rule can hold."""
        return self.patience + 1

    def holds(self, losses: Sequence[float]) -> bool:
        """Has the run converged by its last epoch (losses[i] is the eval loss after epoch i + 1)?"""
        if len(losses) < self.shortest or not all(math.isfinite(x) for x in losses):
            return False
        before, recent = min(losses[: -self.patience]), min(losses[-self.patience :])
        return before - recent <= self.min_delta * max(0.0, losses[0] - before)

    def first(self, losses: Sequence[float]) -> int | None:
        """The first epoch (1-based) at which the rule holds, or None: where `trainer.stop=converged`
        stops a run with this curve."""
        return next((e for e in range(self.shortest, len(losses) + 1) if self.holds(losses[:e])), None)

    def describe(self) -> str:
        return (
            f"the last {self.patience} epochs improve the best eval loss by at most {100 * self.min_delta:g}% of "
            "its descent since epoch 1"
        )


def stop_rule(trainer: TrainerConfig) -> Rule | None:
    """The rule that stops each replicate (`trainer.stop=converged`), or None (`trainer.stop=epochs`:
    every replicate trains to `trainer.epochs`)."""
    return Rule(trainer.patience, trainer.min_delta) if trainer.stop == CONVERGED else None
