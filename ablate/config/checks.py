"""The range checks every schema's __post_init__ uses, and the error they raise: one line naming
the key and what is allowed."""

from __future__ import annotations

import math


class ConfigError(ValueError):
    """A bad config value; the message is one line naming the key and what is allowed."""


def positive(key: str, value: float) -> None:
    if not (math.isfinite(value) and value > 0):  # nan compares False to everything
        raise ConfigError(f"{key}={value} is not allowed: it must be a finite number > 0")


SEEDS = 2**32  # numpy's seeds are 32-bit: every seed key is in [0, SEEDS - 1]
MAX_IMAGE = 1 << 16  # pixels per side or channels: larger is a typo


def within(key: str, value: float, low: float, high: float) -> None:
    """`value` in [low, high], finite: one line naming the key and the range otherwise."""
    if not (math.isfinite(value) and low <= value <= high):
        raise ConfigError(f"{key}={value} is not allowed (allowed: {low:g} to {high:g})")
