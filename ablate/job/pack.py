"""A pack's side of the job: its replicates as the members of one vectorized model trained by the
engine's loop (ablate/engine/train.py with ablate/engine/steps.py's PackStep), each evaluated,
logged and judged on its own after every epoch.

The pack's checkpoint is one file (written to a temporary file and renamed), so a kill -9 never
leaves replicates at different epochs: a rerun of the same command finds the same replicates (the
same fingerprints: the file's name), restores the pack and continues after its epoch. Its `meta`
names the runs it trained for; a pack checkpoint written by another sweep's runs is adopted, each
run taking the epochs before from the run that wrote it. A replicate whose loss goes non-finite
is masked (FAILED; its slice trains on, unread); one masked before the checkpoint stays masked.

trainer.stop=converged: a replicate that stops is frozen in the pack (ablate/engine/steps.py) and
ends at once, from its `on_stop`, while the pack trains on: final evaluation, artifacts, its run
FINISHED. A rerun after a kill -9 then sees that replicate as done ("skip") and would form another
group from the rest: another pack, another float rounding, other numbers. So beside its checkpoint
a pack lists its replicates (members.json: their fingerprints, in order), and `pack_groups` forms
that same group again when its checkpoint records as stopped every member whose run has finished
since (the run it names for that member): those members come along frozen, their runs untouched
(not reopened, not logged again), and the others resume as before. A member that the checkpoint
records as stopped but whose run had not finished when the kill came ends on the rerun.
"""

from __future__ import annotations

import hashlib
import json
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
from ablate.job import resume, stopping
from ablate.job.context import Cell
from ablate.job.contract import ReplicateResult
from ablate.job.replicate import Replicate, mean_of


def pack_path(group: list[Replicate]) -> Path:
    """The pack's checkpoint, named by its replicates' fingerprints."""
    folders = "".join(rep.plan.folder.name for rep in group)
    return group[0].plan.folder.parent / f"pack-{hashlib.sha256(folders.encode()).hexdigest()[:20]}" / "last.pt"


def pack_groups(
    replicates: list[Replicate], fresh: list[Replicate], size: int, enabled: bool
) -> list[tuple[list[Replicate], dict[str, Any] | None]]:
    """The groups to train, in seed order, each with its checkpoint when resumed (else None): the
    packs a kill left mid-training (`_resumable`), then the other `fresh` replicates, `size` at a
    time (a group among them with a checkpoint of an older ablate, which lists no members, is
    found by its name when it trains)."""
    resumed = _resumable(replicates, size, enabled)
    taken = {rep.seed for group, _ in resumed for rep in group}
    rest = [rep for rep in fresh if rep.seed not in taken]
    groups = resumed + [(rest[i : i + size], None) for i in range(0, len(rest), size)]
    return sorted(groups, key=lambda g: g[0][0].seed)


def _resumable(replicates: list[Replicate], size: int, enabled: bool) -> list[tuple[list[Replicate], dict[str, Any]]]:
    """Each pack of at most `size` whose checkpoint lists a group of these replicates, some still
    to train: the rest of the group stopped and finished since, as the checkpoint records (see the
    module's docstring)."""
    prepared = [rep for rep in replicates if rep.plan is not None]
    if not (enabled and prepared):
        return []
    by_folder, found, taken = {rep.plan.folder.name: rep for rep in prepared}, [], set()
    for listing in sorted(prepared[0].plan.folder.parent.glob("pack-*/members.json")):
        try:
            group = [by_folder.get(name) for name in json.loads(listing.read_text())["folders"]]
        except (OSError, ValueError, KeyError, TypeError):  # torn or foreign: not a pack to resume
            continue
        if None in group or len(group) > size or taken & {rep.seed for rep in group}:
            continue
        if not (listing.parent / "last.pt").exists():  # killed before its first epoch ended
            continue
        actions = [rep.plan.action for rep in group]
        if "resume" in actions or "run" not in actions:  # trained alone since, or all of it done
            continue
        state = checkpoint.load(listing.parent / "last.pt")
        if state is None or len(state["histories"]) != len(group):  # unreadable: set aside
            continue
        stops, runs = state.get("stopped") or [None] * len(group), state["meta"]["runs"]
        done = [i for i, rep in enumerate(group) if rep.plan.action == "skip"]
        if all(stops[i] is not None and runs[i] == group[i].run_id for i in done):
            found.append((group, state))
            taken |= {rep.seed for rep in group}
    return found


def _list_members(group: list[Replicate], path: Path) -> None:
    """members.json beside the pack's checkpoint: its replicates' fingerprints, in order."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / "members.tmp"
    tmp.write_text(json.dumps({"folders": [rep.plan.folder.name for rep in group]}))
    tmp.replace(path.parent / "members.json")  # a kill mid-write never leaves a torn list


def train_pack(
    cell: Cell,
    group: list[Replicate],
    models: list[nn.Module],
    stack: Stack,
    hook: Callable | None,
    state: dict[str, Any] | None = None,
) -> dict[int, ReplicateResult]:
    """Train the group as one pack (`state`: its checkpoint, found by `pack_groups`); each
    replicate's result (its run ended), but for those whose run had ended before."""
    t, results, tic = cell.conf.trainer, {}, time.perf_counter()
    seconds = lambda: (time.perf_counter() - tic) / len(group)  # noqa: E731 - the pack's time, per replicate
    members = [_member(cell, rep, model, results, seconds) for rep, model in zip(group, models, strict=True)]
    path, arm = pack_path(group), group[0].name.split(" seed=")[0]
    spec = TrainSpec.of(t, cell.device, f"{arm} seeds {group[0].seed}-{group[-1].seed} (packed)", path, cell.precision)
    try:
        if spec.checkpoint is not None:
            _list_members(group, path)
        optimizer = make_optimizer(list(stack.params.values()), t.optimizer.value, t.lr, t.momentum, t.weight_decay)
        after = None if hook is None else _mean_hook(group, hook)
        pack = Pack(members, PackStep(stack, optimizer), after_epoch=after, meta={"runs": [r.run_id for r in group]})
        resume = _adopt(group, path, cell.conf.tracking.resume, state)
        train(pack, cell.task, cell.train_set, cell.eval_set, spec, resume)
    except Pruned as exc:
        results.update({rep.seed: rep.pruned(exc) for rep in group if not rep.ended})
        shutil.rmtree(path.parent, ignore_errors=True)
        return results
    except BaseException as exc:  # noqa: BLE001 - the pack stopped: its replicates still running end with the reason
        results.update({rep.seed: rep.fail(exc) for rep in group if not rep.ended})
        return results
    for rep, m in zip(group, members, strict=True):
        if not rep.ended:  # neither masked nor stopped (those ended already): trained to the ceiling
            body = lambda rep=rep, m=m: stopping.finish(cell, rep, m.model, m.history, seconds(), m.stopped_at)  # noqa: E731
            results[rep.seed] = rep.conclude(body)
    shutil.rmtree(path.parent, ignore_errors=True)
    return results


def _member(
    cell: Cell, rep: Replicate, model: nn.Module, results: dict[int, ReplicateResult], seconds: Callable[[], float]
) -> Member:
    """The replicate as a member of the pack: its epochs logged, its divergence or its stop its
    run's end. One whose run ended before (stopped, then the kill) is a bare member: frozen once
    the checkpoint is restored, with nothing logged."""
    if rep.ended:
        return Member(model, rep.seed)

    def on_fail(error: Exception) -> None:
        results[rep.seed] = rep.fail(error, alone=False)

    def on_stop(epoch: int) -> None:  # ended now, while the pack trains on
        body = lambda: stopping.finish(cell, rep, model, member.history, seconds(), epoch)  # noqa: E731
        results[rep.seed] = rep.conclude(body)

    member = Member(model, rep.seed, rep.on_epoch(model, cell.task, cell.shown, cell.device), on_fail, on_stop)
    return member


def _mean_hook(group: list[Replicate], hook: Callable) -> Callable[[int], None]:
    """After each epoch: the search's hook sees each metric's mean over the replicates that logged
    it (not masked, not stopped before)."""

    def after_epoch(epoch: int) -> None:
        logged = [rep for rep in group if epoch in rep.epochs]
        mean_of(logged, hook)(epoch, logged[-1].epochs[epoch])

    return after_epoch


def _adopt(group: list[Replicate], path: Path, enabled: bool, state: dict[str, Any] | None) -> dict[str, Any] | None:
    """The pack's checkpoint when resuming (None: train from scratch): `state`, or the one at
    `path`. Each replicate's run takes the epochs before it: from the run that wrote it, when that
    was another sweep's. A replicate whose run has ended is left alone."""
    if state is None:
        if not (enabled and path.exists()):
            return None
        state = checkpoint.load(path)
        if state is None:  # unreadable: set aside, the pack trains from scratch
            return None
    epoch = int(state["epoch"])
    for rep, source in zip(group, state["meta"]["runs"], strict=True):
        if rep.ended:
            continue
        if source != rep.run_id:  # the pack was another sweep's: its runs' epochs come along
            resume.copy_results(rep.tracker, source, rep.run_id, max_step=epoch, folders=("progress",))
            rep.tracker.set_tags(rep.run_id, {"ablate.resumed_from": source})
        rep.resumed_epoch = epoch
        rep.tracker.set_tags(rep.run_id, {"ablate.resumed_epoch": epoch})
    return state
