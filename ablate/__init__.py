"""ablate: Hydra-driven ablation studies, tracked in MLflow, reported with statistics."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("ablate")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

# MLflow's environment defaults (telemetry off, fast failure on a dead server), set before any
# module imports mlflow: every ablate module imports this package first
from ablate import store_uri as _store_defaults  # noqa: E402, F401
