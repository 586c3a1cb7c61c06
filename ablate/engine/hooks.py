"""Per-epoch hooks from outside the core: a sweeper (the Optuna plugin) asks every job of its
search to call something after each epoch, without the core knowing the sweeper.

The sweeper sets $ABLATE_EPOCH_HOOK for each job (through `hydra.job.env_set`, so in-process,
joblib and SLURM jobs alike) to `dotted.path.Factory:argument`. The job builds `Factory(argument)`
and calls it as `hook(epoch, metrics)` after each epoch is logged; the hook may raise `Pruned` to
stop the job early (an outcome, not a failure), and its `tags` (a dict) go on the job's run.
"""

from __future__ import annotations

import os
from typing import Any

from hydra.utils import get_object

ENV_HOOK = "ABLATE_EPOCH_HOOK"


class Pruned(Exception):
    """Raised by an epoch hook to stop the job after `epoch`: its run ends KILLED, its checkpoint
    is dropped (no rerun resumes it), and the sweep goes on."""

    def __init__(self, epoch: int, message: str) -> None:
        super().__init__(message)
        self.epoch = epoch


def epoch_hook() -> Any:
    """The hook this job was given, or None (no import of anything outside the core then)."""
    spec = os.environ.get(ENV_HOOK)
    if not spec:
        return None
    target, _, argument = spec.partition(":")
    return get_object(target)(argument)


def hook_spec(factory: str, argument: str) -> str:
    """The value of $ABLATE_EPOCH_HOOK that makes each job call `factory(argument)`."""
    return f"{factory}:{argument}"
