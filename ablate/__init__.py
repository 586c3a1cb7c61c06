"""ablate: Hydra-driven ablation studies, tracked in MLflow, reported with statistics."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("ablate")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"
