"""How fast a run learned, from its eval-loss curve alone: reproducible (epochs and losses, never
seconds, which depend on the machine and its load) and comparable between arms of one sweep.

- `loss_auc`: the area under the eval-loss curve over the first `horizon` epochs, divided by the
  horizon (the mean eval loss of epochs 1 .. H): lower is faster. A run stopped earlier by
  `trainer.stop=converged` keeps its last loss for the epochs it did not train (it had converged);
  a sweep shorter than the horizon is measured over its ceiling (H = min(horizon, trainer.epochs)).
- `epochs_to_loss`: the first epoch whose eval loss is at most `threshold`. A run that never gets
  there is counted as ceiling + 1 (censored: its true value is larger), so the difference between
  two arms is, if anything, understated when both have such runs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def loss_auc(losses: Sequence[float], horizon: int, ceiling: int) -> float:
    """Mean eval loss over epochs 1 .. min(horizon, ceiling); NaN for an empty or non-finite curve."""
    h = min(horizon, ceiling)
    if not losses or h < 1 or not all(math.isfinite(x) for x in losses[:h]):
        return math.nan
    padded = list(losses[:h]) + [losses[-1]] * max(0, h - len(losses))
    return sum(padded) / h


def epochs_to_loss(losses: Sequence[float], threshold: float, ceiling: int) -> float:
    """The first epoch (1-based) with eval loss <= threshold; ceiling + 1 when none has."""
    if not losses:
        return math.nan
    return float(next((e for e, x in enumerate(losses, 1) if x <= threshold), ceiling + 1))
