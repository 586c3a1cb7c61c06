"""ablate: Hydra-driven ablation studies, tracked in MLflow, reported with statistics."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("ablate")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

import os as _os

# OpenMP threads that wait sleep instead of spinning (unless the user chose: OMP_WAIT_POLICY or
# GOMP_SPINCOUNT). Spinning wins a few % alone but, with two jobs on the same cores, each job's
# threads burn the other's time: 3.5-5x slower side by side where 2x is fair
# (reports/contention.md). Set before torch loads OpenMP: every ablate process, workers too,
# imports this package first.
if not {"OMP_WAIT_POLICY", "GOMP_SPINCOUNT"} & set(_os.environ):
    _os.environ["OMP_WAIT_POLICY"] = "PASSIVE"

# MLflow's environment defaults (telemetry off, fast failure on a dead server), set before any
# module imports mlflow: every ablate module imports this package first
from ablate.tracking import uri as _store_defaults  # noqa: E402, F401
