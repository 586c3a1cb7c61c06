"""What determines a job's result, as one hash: the resolved config (paths and display-only keys
excluded), the code version and the data. Equal fingerprints mean a rerun would compute the
same numbers, so a finished job is skipped and a killed one resumed."""

from __future__ import annotations

import functools
import hashlib
import json
import subprocess
from pathlib import Path
from typing import Any

import torch

from ablate import __version__
from ablate.config.root import STUDY_KEYS
from ablate.config.stop import CEILING, converges
from ablate.data import ImageSet

# keys that change where things go or how they are shown, never what is computed (the Optuna
# sweeper's study names leave them out too)
NEUTRAL = ("data.root", "data.download", "trainer.progress", "trainer.threads", "trainer.device", "trainer.checkpoint")
# a replicate's numbers are its seed's (it is fingerprinted with its own seed), whatever the number
# of replicates beside it or how many trained at once (float-level differences aside: docs/concepts/replicates.md)
NEUTRAL += ("replicates", "trainer.pack")
# the precision that trained counts (trainer.resolved_precision, ablate/job/precision.py), not how it
# was asked for: trainer.precision=auto that resolved to bf16 reuses a trainer.precision=bf16 run
NEUTRAL += ("trainer.precision",)
NEUTRAL_PREFIXES = ("tracking.", "sequential.")  # how many seeds a sweep adds, never what one computes
# the study's claims and reference tables judge the runs, never change them: rewording a claim (or
# choosing another claim set) retrains nothing and continues the same sweep
NEUTRAL += STUDY_KEYS
NEUTRAL_PREFIXES += tuple(f"{k}." for k in STUDY_KEYS)


def neutral(key: str) -> bool:
    """True for a flat config key that never changes a job's numbers."""
    return key in NEUTRAL or key.startswith(NEUTRAL_PREFIXES)


@functools.cache
def code_version() -> str:
    """'git:<commit>[+dirty]' for a source checkout, else 'pkg:<version>' (wheel, Docker image)."""
    root = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return f"pkg:{__version__}"
    return f"git:{commit}{'+dirty' if dirty else ''}"


def data_hash(*sets: ImageSet, sample: int = 2048) -> str:
    """A content hash of the images (an evenly strided sample of at most `sample` per set, so a
    100k-image set costs no more than a small one), the labels and the shapes."""
    h = hashlib.sha256()
    for data in sets:
        n = len(data)
        idx = torch.linspace(0, n - 1, min(n, sample)).long() if n else torch.zeros(0, dtype=torch.long)
        h.update(repr((data.name, tuple(data.images.shape))).encode())
        h.update(data.images[idx].contiguous().numpy().tobytes())
        if data.labels is not None:
            h.update(data.labels.contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


# Under trainer.stop=converged the ceiling decides only where a replicate may stop, not what it
# computes on the way: one that converged at epoch k trained exactly the same epochs under any
# ceiling of k or more. So the ceiling is left out of its fingerprint, and a finished run is its
# result under a new ceiling only where its `ablate.stop` line allows (stopping.reusable): raising
# the ceiling, as a report with unconverged arms suggests, retrains only what had not converged.
def fingerprint(flat_config: dict[str, Any], code: str, data: str) -> str:
    kept = {k: v for k, v in flat_config.items() if not neutral(k)}
    if converges(flat_config):
        kept.pop(CEILING, None)
    blob = json.dumps({"config": kept, "code": code, "data": data}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]
