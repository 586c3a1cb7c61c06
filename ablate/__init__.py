"""ablate: Hydra-driven ablation studies, tracked in MLflow, reported with statistics."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("ablate")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

import os as _os

# OpenMP threads that wait spin a short while, then sleep (unless the user chose: OMP_WAIT_POLICY
# or GOMP_SPINCOUNT). A training step of a small model is hundreds of short operators: threads
# that sleep between them (OMP_WAIT_POLICY=PASSIVE) made every step 2-2.6x slower; libgomp's
# default (300,000 spins) is as fast alone but, with two processes on the same cores, each one's
# spinning threads burn the other's time (up to 10x slower side by side). 10,000 spins is as fast
# alone and bounded side by side (reports/benchmarks.md). Set before torch loads OpenMP: every
# ablate process, workers too, imports this package first.
SPIN_COUNT = "10000"
if not {"OMP_WAIT_POLICY", "GOMP_SPINCOUNT"} & set(_os.environ):
    _os.environ["GOMP_SPINCOUNT"] = SPIN_COUNT

# MLflow's environment defaults (telemetry off, fast failure on a dead server), set before any
# module imports mlflow: every ablate module imports this package first
from ablate.tracking import uri as _store_defaults  # noqa: E402, F401

# the notebook API (ablate/report/results.py), imported on first use: `import ablate` stays light
_NOTEBOOK = ("results", "cells", "effects", "verdicts")
__all__ = ["__version__", *_NOTEBOOK]


def __getattr__(name: str):
    if name in _NOTEBOOK:
        from ablate.report import results

        return getattr(results, name)
    raise AttributeError(f"module 'ablate' has no attribute {name!r}")
