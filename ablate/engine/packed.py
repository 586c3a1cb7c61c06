"""The epochs of a pack: its replicates trained as one vectorized model (ablate/engine/vectorized.py),
each evaluated, logged and judged on its own after every epoch, and the pack's checkpoint.

The checkpoint is one file for the whole pack (written to a temporary file and renamed), so a
kill -9 never leaves replicates at different epochs: a rerun of the same command finds the same
replicates (the same fingerprints), restores the pack and continues after its epoch, each run
taking the epochs before from the run that wrote the checkpoint.
"""

from __future__ import annotations

import hashlib
import math
import shutil
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from ablate.engine import checkpoint
from ablate.engine.hooks import Pruned
from ablate.engine.progress import Progress
from ablate.engine.train import History, NonFiniteLoss, evaluate, make_optimizer, on_device, resolve_precision
from ablate.engine.vectorized import Stack, train_epoch
from ablate.job import resume
from ablate.job.replicate import Replicate


class PackedRun:
    def __init__(self, cell, group: list[Replicate], models: list[torch.nn.Module]):
        self.cell, self.group, self.models = cell, group, models
        t, device = cell.conf.trainer, cell.device
        self.dtype = resolve_precision(t.precision, device)
        self.train_set = on_device(cell.train_set, device, torch.contiguous_format)
        self.eval_set = on_device(cell.eval_set, device, torch.contiguous_format)
        self.stack, self.why = None, ""
        try:
            stack = Stack(models)
            labels = None if self.train_set.labels is None else self.train_set.labels[:2]
            x = cell.task.batch(self.train_set.images[:2], labels)[0]
            stack.probe(x.unsqueeze(0).expand(len(models), *x.shape).contiguous())
            self.stack = stack
        except Exception as exc:  # noqa: BLE001 - random ops in forward, an op vmap lacks: one line why
            name = type(models[0]).__name__
            self.why = f"{name} cannot be vectorized ({type(exc).__name__}: {' '.join(str(exc).split())[:160]})"
            return
        params = list(self.stack.params.values())
        self.optimizer = make_optimizer(params, t.optimizer.value, t.lr, t.momentum, t.weight_decay)
        self.orders = [torch.Generator().manual_seed(rep.seed) for rep in group]  # each replicate's own order
        self.histories = [History() for _ in group]
        self.live = list(range(len(group)))
        self.results: dict[int, dict[str, Any]] = {}
        folders = "".join(rep.plan.folder.name for rep in group)  # the replicates' fingerprints
        name = f"pack-{hashlib.sha256(folders.encode()).hexdigest()[:20]}"
        self.path = group[0].plan.folder.parent / name / "last.pt"

    def train(self, hook) -> dict[int, dict[str, Any]]:
        t, group = self.cell.conf.trainer, self.group
        tic = time.perf_counter()
        try:
            first = self.restore() + 1
            arm = group[0].name.split(" seed=")[0]
            bar = Progress(f"{arm} seeds {group[0].seed}-{group[-1].seed} (packed)", first, t.epochs, t.progress)
            for epoch in range(first, t.epochs + 1):
                self.epoch(epoch, hook)
                if not self.live:
                    break
                losses = [group[r].epochs[epoch]["eval_loss"] for r in self.live]
                bar.update(epoch, eval_mean=sum(losses) / len(losses))
            bar.close()
        except Pruned as exc:
            self.results.update({group[r].seed: group[r].pruned(exc) for r in self.live})
            shutil.rmtree(self.path.parent, ignore_errors=True)
            return self.results
        except BaseException as exc:  # noqa: BLE001 - the pack stopped: its live replicates end with the reason
            self.results.update({group[r].seed: group[r].fail(exc) for r in self.live})
            return self.results
        seconds = (time.perf_counter() - tic) / len(group)  # the pack's time, per replicate
        for r in self.live:
            rep, model, history = group[r], self.models[r], self.histories[r]
            body = lambda rep=rep, model=model, history=history: rep.finalize(  # noqa: E731
                model, self.cell.task, self.cell.eval_set, self.cell.device, history, seconds
            )
            self.results[rep.seed] = rep.conclude(body)
        shutil.rmtree(self.path.parent, ignore_errors=True)
        return self.results

    def epoch(self, epoch: int, hook) -> None:
        cell, t = self.cell, self.cell.conf.trainer
        tic, cpu = time.perf_counter(), time.process_time()
        orders = torch.stack([torch.randperm(len(self.train_set), generator=g) for g in self.orders])
        losses = train_epoch(self.stack, cell.task, self.train_set, orders.to(cell.device), t.batch_size,
                             self.optimizer, cell.device, self.dtype).tolist()  # fmt: skip
        self.stack.unstack()
        shared = (time.perf_counter() - tic) / len(self.group)
        shared_cpu = (time.process_time() - cpu) / len(self.group)
        for r in list(self.live):
            tic, cpu = time.perf_counter(), time.process_time()
            rep, model = self.group[r], self.models[r]
            ev = evaluate(model, cell.task, self.eval_set, 4 * t.batch_size, cell.device, dtype=self.dtype)
            if not (math.isfinite(losses[r]) and math.isfinite(ev.loss)):  # masked: it stays in the pack
                error = NonFiniteLoss(f"loss became {losses[r]} (train) / {ev.loss} (eval) at epoch {epoch}")
                self.results[rep.seed] = rep.fail(error, alone=False)
                self.live.remove(r)
                continue
            h = self.histories[r]
            h.train_loss.append(losses[r])
            h.eval_loss.append(ev.loss)
            h.epoch_seconds.append(shared + time.perf_counter() - tic)
            h.epoch_cpu.append(shared_cpu + time.process_time() - cpu)
            values = {"train_loss": losses[r], "eval_loss": ev.loss, **ev.quality}
            rep.on_epoch(model, cell.task, cell.shown, cell.device)(epoch, values)
        if hook is not None and self.live:
            from ablate.job.cell import mean_of

            last = self.group[self.live[-1]]
            mean_of([self.group[r] for r in self.live], hook)(epoch, last.epochs[epoch])
        self.save(epoch)

    # -- the pack's checkpoint ----------------------------------------------------------------------
    def save(self, epoch: int) -> None:
        if not self.cell.conf.trainer.checkpoint:
            return
        payload = {
            "epoch": epoch,
            **self.stack.state(),
            "optimizer": self.optimizer.state_dict(),
            "orders": [g.get_state() for g in self.orders],
            "rng": checkpoint.rng_state(self.orders[0]),
            "histories": [asdict(h) for h in self.histories],
            "runs": [rep.run_id for rep in self.group],
            "masked": [r not in self.live for r in range(len(self.group))],
        }
        checkpoint.write(self.path, payload)  # one rename: the whole pack at one epoch, or the one before

    def restore(self) -> int:
        """The epoch the pack's checkpoint reached (0 without one); each run gets the epochs before."""
        if not (self.cell.conf.tracking.resume and Path(self.path).exists()):
            return 0
        state = checkpoint.load(self.path)
        if state is None:  # unreadable: set aside, the pack trains from scratch
            return 0
        self.stack.load(state)
        self.optimizer.load_state_dict(state["optimizer"])
        for g, s in zip(self.orders, state["orders"], strict=True):
            g.set_state(s)
        checkpoint.set_rng_state(state["rng"], torch.Generator())
        self.histories = [History(**h) for h in state["histories"]]
        epoch = int(state["epoch"])
        for r, rep in enumerate(self.group):
            if state["runs"][r] != rep.run_id:  # the pack was another sweep's: its runs' epochs come along
                resume.copy_results(rep.tracker, state["runs"][r], rep.run_id, max_step=epoch, folders=("progress",))
                rep.tracker.set_tags(rep.run_id, {"ablate.resumed_from": state["runs"][r]})
            rep.resumed_epoch = epoch
            rep.tracker.set_tags(rep.run_id, {"ablate.resumed_epoch": epoch})
            rep.epochs.update({e + 1: {"eval_loss": v} for e, v in enumerate(self.histories[r].eval_loss)})
            if state["masked"][r]:
                self.results[rep.seed] = rep.fail(NonFiniteLoss(f"diverged before epoch {epoch}"), alone=False)
                self.live.remove(r)
        return epoch
