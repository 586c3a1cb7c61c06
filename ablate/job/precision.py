"""`trainer.precision=auto`, decided once per sweep: the sweep's process resolves it for the CPU
(ablate.engine.setup.auto_precision: fp32 today, bf16 on AMX-BF16 once shown equivalent) and hands the answer
to every job through ENV_PRECISION, so jobs on other machines (a Slurm node with another
processor) train in the sweep's precision, never a mix. A job on a GPU resolves it by its GPU
(bf16 where supported). fp32 and bf16 are taken as written.

The resolved precision is each run's param RESOLVED and part of its fingerprint: a finished run is
reused, and a killed one resumed, only by a job that trains in the same precision."""

from __future__ import annotations

import json
import os

import torch

from ablate.config.root import PRECISIONS
from ablate.engine.setup import resolve_precision

ENV_PRECISION = "ABLATE_PRECISION"  # JSON: device type -> the sweep's resolved precision
RESOLVED = "trainer.resolved_precision"  # the param (and fingerprint key) holding what trained
CHOICES = tuple(p for p in PRECISIONS if p != "auto")  # what `auto` can resolve to


def sweep_precisions() -> dict[str, str]:
    """What `auto` means for this sweep, per device type decided here (the CPU; GPUs decide per job)."""
    return {"cpu": resolve_precision("auto", torch.device("cpu"))}


def job_precision(setting: str, device: torch.device) -> str:
    """This job's precision: the setting as written, else the sweep's choice for this device type,
    else auto's choice here (a single run, or a GPU)."""
    if setting != "auto":
        return setting
    chosen = json.loads(os.environ.get(ENV_PRECISION) or "{}").get(device.type)
    if chosen not in (None, *CHOICES):
        raise ValueError(f"{ENV_PRECISION} gives {device.type}: {chosen} (allowed: {', '.join(CHOICES)})")
    return chosen or resolve_precision(setting, device)
