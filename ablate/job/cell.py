"""A cell's replicates, trained one after another or packed: several models of one architecture
(one per seed) trained as one vectorized model with torch.func, for any model ablate builds.

Packing: each replicate's model is built (and initialised) with its own seed; their parameters
and buffers are stacked along a leading replicate axis (`torch.func.stack_module_state`) and the
forward pass is `vmap(functional_call)` over that axis, so R small models make one set of large
kernels. Each replicate keeps its own batch order (its seed's), BatchNorm statistics and optimizer
state (Adam and SGD act element by element, so one optimizer over the stacked tensors is R
optimizers). The loss is the SUM of the replicates' losses: each replicate's gradient is then
exactly its own (a mean would divide every learning rate by R). After each epoch the stacked
weights are copied back into the replicates' models, which evaluate, log and checkpoint as usual.

What differs from one at a time: float rounding (the same sums in another order), so a replicate's
numbers can differ with the pack size in the last digits, far below the spread between seeds
(README, "Replicates"). A replicate whose loss goes non-finite is masked: its slice keeps its
place (the others' numbers stay as they were), its run is marked FAILED and it is no longer logged.
A model that cannot be vectorized (random ops in forward, an op vmap lacks) trains its replicates
one after another, with one line saying why.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from ablate.config import Config
from ablate.job.replicate import Replicate

# replicates packed at once when trainer.pack=auto: what the measurements favour per device type
# (deterministic: never sized from free memory, which would change the numbers between runs)
AUTO = {"cpu": 16, "cuda": 256}


def pack_size(setting: Any, device: torch.device) -> int:
    return AUTO.get(device.type, 16) if setting == "auto" else int(setting)


class Cell:
    """The shared inputs of a cell's replicates: its config, task, data and device."""

    def __init__(self, conf: Config, task, data: dict[str, Any], train_set, eval_set, shown, device: torch.device,
                 resources: dict[str, Any]):  # fmt: skip
        self.conf, self.task, self.data, self.device = conf, task, data, device
        self.train_set, self.eval_set, self.shown, self.resources = train_set, eval_set, shown, resources

    def train(self, replicates: list[Replicate], hook: Callable | None) -> list[dict[str, Any]]:
        """Every replicate's result, in seed order: skipped, resumed or trained."""
        results: dict[int, dict[str, Any]] = {}
        todo = []
        for rep in replicates:
            try:
                action = rep.prepare(self.train_set, self.eval_set)
            except BaseException as exc:  # noqa: BLE001 - this replicate's run ends FAILED; the others go on
                results[rep.seed] = rep.fail(exc)
                continue
            if action == "skip":
                results[rep.seed] = rep.conclude(lambda rep=rep: rep.tracker.run(rep.run_id)["metrics"])
            else:
                rep.tracker.set_tags(rep.run_id, self.resources)
                todo.append(rep)
        size = pack_size(self.conf.trainer.pack, self.device)
        fresh = [rep for rep in todo if rep.plan.action == "run"]  # resumed ones continue their own checkpoint
        results.update(self.one_by_one([rep for rep in todo if rep.plan.action != "run"], hook))
        for start in range(0, len(fresh), size):
            group = fresh[start : start + size]
            results.update(self.one_by_one(group, hook) if len(group) == 1 else self.packed(group, hook))
        return [results[rep.seed] for rep in replicates]

    def packed(self, group: list[Replicate], hook: Callable | None) -> dict[int, dict[str, Any]]:
        """The group trained as one vectorized model (or one by one, if the model cannot be)."""
        from ablate.engine.packed import PackedRun

        try:
            models = [rep.build_model(self.task, self.data, self.device) for rep in group]
            run = PackedRun(self, group, models)
        except BaseException as exc:  # noqa: BLE001 - every replicate of the group ends with the reason
            return {rep.seed: rep.fail(exc) for rep in group}
        if run.stack is None:
            print(f"pack: {run.why}; its {len(group)} replicates train one after another", flush=True)
            return self.one_by_one(group, hook, models)
        for rep in group:  # how many trained together: the numbers can differ with it at float level
            rep.log_params({"pack_size": len(group)})
        return run.train(hook)

    def one_by_one(self, group: list[Replicate], hook: Callable | None, models=None) -> dict[int, dict[str, Any]]:
        """The plain loop, replicate after replicate. A search's hook sees, after each epoch of the
        last one, the mean over the group's replicates of that epoch's metrics."""
        results = {}
        for i, rep in enumerate(group):
            rep.log_params({"pack_size": 1})
            last, model = hook if i == len(group) - 1 else None, models[i] if models else None
            body = lambda rep=rep, last=last, model=model: self._alone(rep, mean_of(group, last), model)  # noqa: E731
            results[rep.seed] = rep.conclude(body)
        return results

    def _alone(self, rep: Replicate, hook: Callable | None, model=None) -> dict[str, float]:
        import time

        model = model if model is not None else rep.build_model(self.task, self.data, self.device)
        tic = time.perf_counter()
        history = rep.fit(model, self.task, self.train_set, self.eval_set, self.shown, self.device, hook)
        return rep.finalize(model, self.task, self.eval_set, self.device, history, time.perf_counter() - tic)


def mean_of(group: list[Replicate], hook: Callable | None) -> Callable | None:
    """`hook` called with each metric's mean over the group's replicates that logged that epoch."""
    if hook is None:
        return None

    def mean_hook(epoch: int, values: dict[str, float]) -> None:
        logged = [rep.epochs[epoch] for rep in group if epoch in rep.epochs]
        hook(epoch, {k: sum(v[k] for v in logged) / len(logged) for k in values if all(k in v for v in logged)})

    return mean_hook
