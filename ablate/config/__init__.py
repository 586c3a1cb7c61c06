"""The config layer: the root schema (root.py), one dataclass per built-in component
(schemas.py), the range checks (checks.py), the metric registry (metrics.py) and declared claims
(claims.py). Plain values and dataclasses: it imports nothing else of ablate."""

from ablate.config.checks import ConfigError, positive, within
from ablate.config.root import (
    BROKEN_SWEEPS,
    Config,
    TrainerConfig,
    flatten,
    load_sweeps,
    register_configs,
    to_object,
)

__all__ = [
    "BROKEN_SWEEPS",
    "Config",
    "ConfigError",
    "TrainerConfig",
    "flatten",
    "load_sweeps",
    "positive",
    "register_configs",
    "to_object",
    "within",
]
