"""How a replicate's training ended, as its run records it, and the end itself.

`trainer.stop=converged` stops each replicate at the first epoch its eval loss has plateaued
(ablate/engine/convergence.py), `trainer.epochs` being the ceiling; `trainer.stop=epochs` trains
every replicate to `trainer.epochs`. Either way its run says where and why it stopped: the metric
`stop_epoch` (the epochs it trained) and the tag `ablate.stop`, one line:

- `converged at epoch 37 (<the rule, in words>)`;
- `ceiling: trainer.epochs=100 reached before converging`;
- `trainer.stop=epochs`.

Its final metrics are logged at the step of its last epoch, so a replicate that stopped at epoch
37 of 100 has its curves and its final numbers end at 37. `finish` is the end of a replicate that
trained, alone (ablate/job/cell.py, once the loop returns) or inside a pack (ablate/job/pack.py,
from its `on_stop` while the others train on, or once the pack ends).
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import torch
from torch import nn

from ablate.config import TrainerConfig
from ablate.engine.convergence import stop_rule
from ablate.engine.train import History
from ablate.job import figures
from ablate.job.context import Cell
from ablate.models import count_parameters

STOP = "ablate.stop"  # the run's tag: where and why it stopped


def stop_line(trainer: TrainerConfig, stopped_at: int | None) -> str:
    """The `ablate.stop` tag of a replicate that trained (`stopped_at`: the epoch the rule held at,
    None when it never did)."""
    rule = stop_rule(trainer)
    if rule is None:
        return "trainer.stop=epochs"
    if stopped_at is not None:
        return f"converged at epoch {stopped_at} ({rule.describe()})"
    return f"ceiling: trainer.epochs={trainer.epochs} reached before converging"


def ceiling(trainer: TrainerConfig) -> int | None:
    """The ceiling a finished run must suit to be reused (None: trainer.stop=epochs, whose
    fingerprint holds its epochs)."""
    return None if stop_rule(trainer) is None else trainer.epochs


def reusable(line: str | None, ceiling: int | None) -> bool:
    """Whether a finished run whose `ablate.stop` tag reads `line` is a replicate's result under
    `ceiling`: one that converged at epoch k, under a ceiling of k or more; one that reached its
    ceiling, under that same ceiling only (under a higher one it would have trained on)."""
    if ceiling is None:
        return True
    converged = re.match(r"converged at epoch (\d+) ", line or "")
    if converged:
        return int(converged.group(1)) <= ceiling
    return reached(line) == ceiling


def reached(line: str | None) -> int | None:
    """The ceiling a finished run whose `ablate.stop` tag reads `line` reached before converging (None:
    it converged, or trained a fixed number of epochs)."""
    found = re.match(r"ceiling: trainer\.epochs=(\d+) ", line or "")
    return int(found.group(1)) if found else None


def training_metrics(model: nn.Module, history: History, seconds: float, device: torch.device) -> dict[str, float]:
    """What its training came to: timings, size, the epochs it trained and its final losses."""
    counts = count_parameters(model)
    return {
        "train_seconds": seconds,
        # the training and eval-loss passes alone (train_seconds less per-epoch logging, snapshots, checkpoints)
        "loop_seconds": sum(history.epoch_seconds),
        # the report's cost: one epoch of the loop per replicate, in CPU process time on a CPU (what
        # other jobs on the machine do not inflate), in wall time on a GPU (the CPU mostly waits there)
        "epoch_cost_s": float(np.mean(history.epoch_cpu if device.type == "cpu" else history.epoch_seconds)),
        "n_params": counts["trainable"],
        "n_params_keras": counts["keras_total"],
        "stop_epoch": len(history.eval_loss),  # the epochs it trained: its stop epoch, or the ceiling
        "final_train_loss": history.train_loss[-1],
        "final_eval_loss": history.eval_loss[-1],
    }


def finish(
    cell: Cell, rep: Any, model: nn.Module, history: History, seconds: float, stopped_at: int | None
) -> dict[str, float]:
    """A replicate's end once it has trained: the progress grid of the epoch it stopped at (the
    last grid it has; the article's epochs have theirs already), then its final evaluation,
    metrics and artifacts (Replicate.finalize; `rep` is that Replicate: not imported, replicate.py imports
    this module)."""
    if stopped_at is not None and stopped_at not in figures.snapshot_epochs(cell.conf.trainer.epochs):
        rep.snapshot(model, cell.task, cell.shown, cell.device, stopped_at)
    return rep.finalize(model, cell.task, cell.eval_set, cell.device, history, seconds, stopped_at)
