"""trainer.stop: run the ceiling out, or stop each replicate once converged (ablate/engine/
convergence.py has the rule), with its defaults; named once for the schema, the fingerprint, the
preflight and the report."""

from __future__ import annotations

from typing import Any

STOPS = ("epochs", "converged")
CONVERGED = STOPS[1]
PATIENCE, MIN_DELTA = 10, 0.002
CEILING = "trainer.epochs"  # under trainer.stop=converged, the ceiling: where a replicate may stop at the latest


def converges(flat: dict[str, Any]) -> bool:
    """Whether a flat config, or a run's params, stops each replicate once converged."""
    return str(flat.get("trainer.stop")) == CONVERGED
