"""A pack's side of the job: its replicates as the members of one vectorized model trained by the
engine's loop (ablate/engine/train.py with ablate/engine/steps.py's PackStep), each evaluated,
logged and judged on its own after every epoch.

The pack's checkpoint is one file (written to a temporary file and renamed), so a kill -9 never
leaves replicates at different epochs: a rerun of the same command finds the same replicates (the
same fingerprints: the file's name), restores the pack and continues after its epoch. Its `meta`
names the runs it trained for; a pack checkpoint written by another sweep's runs is adopted, each
run taking the epochs before from the run that wrote it. A replicate whose loss goes non-finite
is masked (FAILED; its slice trains on, unread); one masked before the checkpoint stays masked.
"""

from __future__ import annotations

import hashlib
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from torch import nn

from ablate.engine import checkpoint
from ablate.engine.hooks import Pruned
from ablate.engine.setup import make_optimizer
from ablate.engine.steps import PackStep
from ablate.engine.train import Member, Pack, TrainSpec, train
from ablate.engine.vectorized import Stack
from ablate.job import resume
from ablate.job.context import Cell
from ablate.job.contract import ReplicateResult
from ablate.job.replicate import Replicate, mean_of


def pack_path(group: list[Replicate]) -> Path:
    """The pack's checkpoint, named by its replicates' fingerprints."""
    folders = "".join(rep.plan.folder.name for rep in group)
    return group[0].plan.folder.parent / f"pack-{hashlib.sha256(folders.encode()).hexdigest()[:20]}" / "last.pt"


def train_pack(
    cell: Cell, group: list[Replicate], models: list[nn.Module], stack: Stack, hook: Callable | None
) -> dict[int, ReplicateResult]:
    """Train the group as one pack; each replicate's result (its run ended)."""
    t, results = cell.conf.trainer, {}
    members = [_member(cell, rep, model, results) for rep, model in zip(group, models, strict=True)]
    path, arm = pack_path(group), group[0].name.split(" seed=")[0]
    spec = TrainSpec.of(t, cell.device, f"{arm} seeds {group[0].seed}-{group[-1].seed} (packed)", path, cell.precision)
    tic = time.perf_counter()
    try:
        optimizer = make_optimizer(list(stack.params.values()), t.optimizer.value, t.lr, t.momentum, t.weight_decay)
        after = None if hook is None else _mean_hook(group, members, hook)
        pack = Pack(members, PackStep(stack, optimizer), after_epoch=after, meta={"runs": [r.run_id for r in group]})
        train(pack, cell.task, cell.train_set, cell.eval_set, spec, _adopt(group, path, cell.conf.tracking.resume))
    except Pruned as exc:
        results.update({rep.seed: rep.pruned(exc) for rep, m in zip(group, members, strict=True) if m.live})
        shutil.rmtree(path.parent, ignore_errors=True)
        return results
    except BaseException as exc:  # noqa: BLE001 - the pack stopped: its live replicates end with the reason
        results.update({rep.seed: rep.fail(exc) for rep, m in zip(group, members, strict=True) if m.live})
        return results
    seconds = (time.perf_counter() - tic) / len(group)  # the pack's time, per replicate
    for rep, m in zip(group, members, strict=True):
        if m.live:
            body = lambda rep=rep, m=m: rep.finalize(  # noqa: E731
                m.model, cell.task, cell.eval_set, cell.device, m.history, seconds
            )
            results[rep.seed] = rep.conclude(body)
    shutil.rmtree(path.parent, ignore_errors=True)
    return results


def _member(cell: Cell, rep: Replicate, model: nn.Module, results: dict[int, ReplicateResult]) -> Member:
    """The replicate as a member of the pack: its epochs logged, its divergence its run's end."""

    def on_fail(error: Exception) -> None:
        results[rep.seed] = rep.fail(error, alone=False)

    return Member(model, rep.seed, rep.on_epoch(model, cell.task, cell.shown, cell.device), on_fail)


def _mean_hook(group: list[Replicate], members: list[Member], hook: Callable) -> Callable[[int], None]:
    """After each epoch: the search's hook sees each metric's mean over the live replicates."""

    def after_epoch(epoch: int) -> None:
        live = [rep for rep, m in zip(group, members, strict=True) if m.live]
        mean_of(live, hook)(epoch, live[-1].epochs[epoch])

    return after_epoch


def _adopt(group: list[Replicate], path: Path, enabled: bool) -> dict[str, Any] | None:
    """The pack's checkpoint when resuming (None: train from scratch). Each replicate's run takes
    the epochs before it: from the run that wrote it, when that was another sweep's."""
    if not (enabled and path.exists()):
        return None
    state = checkpoint.load(path)
    if state is None:  # unreadable: set aside, the pack trains from scratch
        return None
    epoch = int(state["epoch"])
    for rep, source in zip(group, state["meta"]["runs"], strict=True):
        if source != rep.run_id:  # the pack was another sweep's: its runs' epochs come along
            resume.copy_results(rep.tracker, source, rep.run_id, max_step=epoch, folders=("progress",))
            rep.tracker.set_tags(rep.run_id, {"ablate.resumed_from": source})
        rep.resumed_epoch = epoch
        rep.tracker.set_tags(rep.run_id, {"ablate.resumed_epoch": epoch})
    return state
