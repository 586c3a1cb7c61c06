"""A cell's replicates, trained one after another or packed: several models of one architecture
(one per seed) trained as one vectorized model with torch.func, for any model ablate builds.

Packing: each replicate's model is built (and initialised) with its own seed; their parameters
and buffers are stacked along a leading replicate axis (`torch.func.stack_module_state`) and the
forward pass is `vmap(functional_call)` over that axis, so R small models make one set of large
kernels. Each replicate keeps its own batch order (its seed's), BatchNorm statistics and optimizer
state (Adam and SGD act element by element, so one optimizer over the stacked tensors is R
optimizers). The loss is the SUM of the replicates' losses: each replicate's gradient is then
exactly its own (a mean would divide every learning rate by R). After each epoch the stacked
weights are copied back into the replicates' models, which evaluate and log as usual. One model or
a pack, the epochs are the engine's one loop (ablate/engine/train.py); only its step differs. The
pack's side of the job (its checkpoint, its members' callbacks) is ablate/job/pack.py.

What differs from one at a time: float rounding (the same sums in another order), so a replicate's
numbers can differ with the pack size in the last digits, far below the spread between seeds
(docs/concepts/replicates.md). A replicate whose loss goes non-finite is masked: its slice keeps its
place (the others' numbers stay as they were), its run is marked FAILED and it is no longer logged.
A model that cannot be vectorized (random ops in forward, an op vmap lacks) trains its replicates
one after another, with one line saying why. With trainer.stop=converged each replicate stops at
its own epoch and ends there (ablate/job/stopping.py), alone or inside its pack (whose resume
after a kill keeps the replicates that had already finished: ablate/job/pack.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import torch

from ablate.engine.setup import make_optimizer
from ablate.engine.train import Member, Pack, TrainSpec, train
from ablate.engine.vectorized import stack_or_why
from ablate.job import stopping
from ablate.job.context import Cell
from ablate.job.contract import ReplicateResult
from ablate.job.pack import pack_groups, train_pack
from ablate.job.precision import RESOLVED
from ablate.job.replicate import Replicate, mean_of

# How trainer.pack=auto trains a job's replicates, per device type: a fixed rule from the
# measurements in reports/benchmarks.md (never a timing taken at run time: the numbers must not
# depend on the load, nor on free memory). The CPU: one after another, in either precision; a
# vectorized pack's convolutions become grouped convolutions, which oneDNN runs slower than R
# separate ones, and which CPU autocast leaves in fp32 (bf16 gains nothing there). CUDA: packs
# of up to 256, which fill the GPU that one small model leaves idle (reports/benchmarks_gpu.md).
AUTO = {"cpu": 1, "cuda": 256}


def pack_size(setting: Any, device: torch.device) -> int:
    """Replicates trained at once: 1 means one after another, N > 1 a vectorized pack of up to N."""
    return AUTO.get(device.type, 1) if setting == "auto" else int(setting)


def train_cell(cell: Cell, replicates: list[Replicate], hook: Callable | None) -> list[ReplicateResult]:
    """Every replicate's result, in seed order: skipped, resumed or trained."""
    results: dict[int, ReplicateResult] = {}
    todo = []
    for rep in replicates:
        try:
            action = rep.prepare(cell.train_set, cell.eval_set, {RESOLVED: cell.precision})
        except BaseException as exc:  # noqa: BLE001 - this replicate's run ends FAILED; the others go on
            results[rep.seed] = rep.fail(exc)
            continue
        if action == "skip":
            results[rep.seed] = rep.conclude(lambda rep=rep: rep.tracker.run(rep.run_id)["metrics"])
        else:
            rep.tracker.set_tags(rep.run_id, cell.resources)
            todo.append(rep)
    size = pack_size(cell.conf.trainer.pack, cell.device)
    if size == 1:  # one after another: a search's hook sees the mean over all of them, once per epoch
        results.update(one_by_one(cell, todo, hook))
        return [results[rep.seed] for rep in replicates]
    fresh = [rep for rep in todo if rep.plan.action == "run"]  # resumed ones continue their own checkpoint
    results.update(one_by_one(cell, [rep for rep in todo if rep.plan.action != "run"], hook))
    for group, state in pack_groups(replicates, fresh, size, cell.conf.tracking.resume):
        results.update(one_by_one(cell, group, hook) if len(group) == 1 else packed(cell, group, hook, state))
    return [results[rep.seed] for rep in replicates]


def packed(cell: Cell, group: list[Replicate], hook: Callable | None, state=None) -> dict[int, ReplicateResult]:
    """The group trained as one vectorized model (or one by one, if the model cannot be); `state`:
    its checkpoint, when a kill left it mid-training. A replicate of the group whose run has ended
    (it stopped and finished before the kill) comes along frozen: the pack is the same pack."""
    todo = [rep for rep in group if not rep.ended]
    try:
        models = [rep.build_model(cell.task, cell.data, cell.device, log=not rep.ended) for rep in group]
        stack, why = stack_or_why(models, cell.task, cell.train_set, cell.device)
    except BaseException as exc:  # noqa: BLE001 - every replicate of the group ends with the reason
        return {rep.seed: rep.fail(exc) for rep in todo}
    if stack is None:
        print(f"pack: {why}; its {len(todo)} replicates train one after another", flush=True)
        return one_by_one(cell, todo, hook, [m for rep, m in zip(group, models, strict=True) if not rep.ended])
    for rep in todo:  # how many trained together: the numbers can differ with it at float level
        rep.log_params({"pack_size": len(group)})
    return train_pack(cell, group, models, stack, hook, state)


def one_by_one(cell: Cell, group: list[Replicate], hook: Callable | None, models=None) -> dict[int, ReplicateResult]:
    """The plain step, replicate after replicate. A search's hook sees, after each epoch of the
    last one, the mean over the group's replicates of that epoch's metrics."""
    results = {}
    for i, rep in enumerate(group):
        rep.log_params({"pack_size": 1})
        last, model = hook if i == len(group) - 1 else None, models[i] if models else None
        body = lambda rep=rep, last=last, model=model: _alone(cell, rep, mean_of(group, last), model)  # noqa: E731
        results[rep.seed] = rep.conclude(body)
    return results


def _alone(cell: Cell, rep: Replicate, hook: Callable | None, model=None) -> dict[str, float]:
    """One replicate: the loop's R = 1 case, in its own checkpoint (its plan's)."""
    model = model if model is not None else rep.build_model(cell.task, cell.data, cell.device)
    t = cell.conf.trainer
    tic = time.perf_counter()
    spec = TrainSpec.of(t, cell.device, rep.name, rep.plan.path, cell.precision)
    optimizer = make_optimizer(model, t.optimizer.value, t.lr, t.momentum, t.weight_decay)
    member = Member(model, rep.seed, rep.on_epoch(model, cell.task, cell.shown, cell.device))
    after = None if hook is None else (lambda epoch: hook(epoch, rep.epochs[epoch]))
    pack = Pack([member], spec.plain_step(model, optimizer), after_epoch=after, meta={"runs": [rep.run_id]})
    # a stop ends the loop: the replicate ends here, at its stop epoch (also when resumed from a
    # checkpoint that recorded the stop: the loop then trains nothing)
    (history,) = train(pack, cell.task, cell.train_set, cell.eval_set, spec, rep.plan.state)
    return stopping.finish(cell, rep, model, history, time.perf_counter() - tic, member.stopped_at)
