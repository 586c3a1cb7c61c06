"""The training loop, one for one model and for a pack: plain values in, trained models and
their histories out. No Hydra, no MLflow: whoever calls it (ablate.job) decides what to do with
each member's epoch through its callbacks.

What it trains is a `Pack`: members (a model, the seed of its batch order, its callbacks and
history) and one `Step` that trains them all (ablate/engine/steps.py): the plain step for one
model (R = 1), the vectorized step for a pack of replicates. Each epoch: every member's batch
order is drawn from its own generator, the step makes one pass over the training set, each live
member is evaluated on its own; a member whose loss goes non-finite is masked (its `on_fail`; it
keeps its place in a pack, the others' numbers stay as they were) or, without `on_fail`, the
error is raised. Then the members' `on_epoch`, the pack's `after_epoch`, and the checkpoint
(ablate/engine/checkpoint.py), rewritten after every epoch: `resume` (a loaded checkpoint)
continues after its epoch exactly as if never stopped.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ablate.config import TrainerConfig
from ablate.data import ImageSet
from ablate.engine import checkpoint
from ablate.engine.evaluation import eval_batch_size, evaluate
from ablate.engine.progress import Progress
from ablate.engine.setup import autocast_dtype, on_device, resolve_precision
from ablate.engine.steps import PlainStep, Step
from ablate.tasks import Task


class NonFiniteLoss(RuntimeError):
    @classmethod
    def at(cls, train_loss: float, eval_loss: float, epoch: int) -> NonFiniteLoss:
        return cls(f"loss became {train_loss} (train) / {eval_loss} (eval) at epoch {epoch}")


@dataclass
class History:
    train_loss: list[float] = field(default_factory=list)
    eval_loss: list[float] = field(default_factory=list)
    epoch_seconds: list[float] = field(default_factory=list)
    epoch_cpu: list[float] = field(default_factory=list)  # process time (all threads): the cost, not the wait

    def add(self, train_loss: float, eval_loss: float, seconds: float, cpu: float) -> None:
        self.train_loss.append(train_loss)
        self.eval_loss.append(eval_loss)
        self.epoch_seconds.append(seconds)
        self.epoch_cpu.append(cpu)


@dataclass(frozen=True)
class TrainSpec:
    """The loop's settings. Speed switches (ablate.config.TrainerConfig): `precision` (auto, fp32,
    bf16 autocast); for the plain step `channels_last` and `compile_model` (ablate/engine/steps.py)."""

    epochs: int
    batch_size: int
    device: torch.device
    precision: str = "fp32"
    channels_last: bool = False
    compile_model: bool = False
    progress: bool = True
    desc: str = "train"  # the progress lines' name
    checkpoint: Path | None = None  # rewritten after every epoch (None: none written)

    @classmethod
    def of(cls, t: TrainerConfig, device: torch.device, desc: str, checkpoint: Path, precision: str) -> TrainSpec:
        """A job's settings: `precision` as the job resolved it (trainer.precision may say auto);
        `checkpoint` is written when trainer.checkpoint says so."""
        return cls(
            epochs=t.epochs,
            batch_size=t.batch_size,
            device=device,
            precision=precision,
            channels_last=t.channels_last,
            compile_model=t.compile,
            progress=t.progress,
            desc=desc,
            checkpoint=checkpoint if t.checkpoint else None,
        )

    def plain_step(self, model: nn.Module, optimizer: torch.optim.Optimizer) -> PlainStep:
        return PlainStep(model, optimizer, self.device, self.channels_last, self.compile_model)


@dataclass
class Member:
    """One model the loop trains, and what its caller does with it: `on_epoch(epoch, metrics)`
    after each epoch; `on_fail(error)` when its loss goes non-finite (it is then masked)."""

    model: nn.Module
    seed: int  # its batch order's
    on_epoch: Callable[[int, dict[str, float]], None] | None = None
    on_fail: Callable[[NonFiniteLoss], None] | None = None  # None: the error is raised
    history: History = field(default_factory=History)
    live: bool = True  # False once masked


@dataclass
class Pack:
    """What the loop trains: its members and the step that trains them all at once."""

    members: list[Member]
    step: Step
    after_epoch: Callable[[int], None] | None = None  # after the members' on_epoch, while one is live
    meta: dict[str, Any] = field(default_factory=dict)  # kept in the checkpoint as given


def train(
    pack: Pack,
    task: Task,
    train_set: ImageSet,
    eval_set: ImageSet,
    spec: TrainSpec,
    resume: dict[str, Any] | None = None,
) -> list[History]:
    """Train the pack for `spec.epochs` (after `resume`'s epoch); each member's history."""
    members, device = pack.members, spec.device
    dtype = autocast_dtype(resolve_precision(spec.precision, device))
    train_set, eval_set = on_device(train_set, device, pack.step.layout), on_device(eval_set, device, pack.step.layout)
    orders = [torch.Generator().manual_seed(m.seed) for m in members]  # each member's own batch order
    first = 1 if resume is None else _restore(resume, pack, orders) + 1
    bar = Progress(spec.desc, first, spec.epochs, spec.progress)
    for epoch in range(first, spec.epochs + 1):
        done = _epoch(epoch, pack, task, train_set, eval_set, spec, dtype, orders)
        if len(members) == 1 and done:
            bar.update(epoch, train=done[0][1]["train_loss"], eval=done[0][1]["eval_loss"])
        elif done:
            bar.update(epoch, eval_mean=sum(v["eval_loss"] for _, v in done) / len(done))
        for member, values in done:
            if member.on_epoch is not None:
                member.on_epoch(epoch, values)
        if pack.after_epoch is not None and any(m.live for m in members):
            pack.after_epoch(epoch)
        if spec.checkpoint is not None:
            _save(spec.checkpoint, epoch, pack, orders)
        if not any(m.live for m in members):
            break
    bar.close()
    return [m.history for m in members]


def train_model(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    task: Task,
    train_set: ImageSet,
    eval_set: ImageSet,
    spec: TrainSpec,
    seed: int = 0,
    resume: dict[str, Any] | None = None,
) -> History:
    """One model: the loop's R = 1 case with the plain step."""
    member = Member(model, seed)
    train(Pack([member], spec.plain_step(model, optimizer)), task, train_set, eval_set, spec, resume)
    return member.history


def _epoch(
    epoch: int,
    pack: Pack,
    task: Task,
    train_set: ImageSet,
    eval_set: ImageSet,
    spec: TrainSpec,
    dtype: torch.dtype | None,
    orders: list[torch.Generator],
) -> list[tuple[Member, dict[str, float]]]:
    """One step over the training set, then each live member's eval pass: (member, its metrics)
    for each member still live. A member's time is its share of the step and its own eval."""
    members, device = pack.members, spec.device
    tic, cpu = time.perf_counter(), time.process_time()
    order = torch.stack([torch.randperm(len(train_set), generator=g) for g in orders]).to(device)
    losses = pack.step(task, train_set, order, spec.batch_size, device, dtype)
    shared, shared_cpu = (time.perf_counter() - tic) / len(members), (time.process_time() - cpu) / len(members)
    done = []
    for member, loss in zip(members, losses, strict=True):
        if not member.live:
            continue
        tic, cpu = time.perf_counter(), time.process_time()
        ev = evaluate(member.model, task, eval_set, eval_batch_size(spec.batch_size), device, dtype=dtype)
        if not (math.isfinite(loss) and math.isfinite(ev.loss)):
            _mask(member, NonFiniteLoss.at(loss, ev.loss, epoch))
            continue
        member.history.add(loss, ev.loss, shared + time.perf_counter() - tic, shared_cpu + time.process_time() - cpu)
        done.append((member, {"train_loss": loss, "eval_loss": ev.loss, **ev.quality}))
    return done


def _mask(member: Member, error: NonFiniteLoss) -> None:
    """A member whose loss went non-finite: masked (its slice of a pack trains on, unread), or the
    error raised when nobody asked for masking."""
    if member.on_fail is None:
        raise error
    member.on_fail(error)
    member.live = False


def _save(path: Path, epoch: int, pack: Pack, orders: list[torch.Generator]) -> None:
    checkpoint.save(
        path,
        epoch=epoch,
        weights=pack.step.weights(),
        optimizer=pack.step.optimizer,
        orders=orders,
        histories=[asdict(m.history) for m in pack.members],
        masked=[not m.live for m in pack.members],
        meta=pack.meta,
    )


def _restore(state: dict[str, Any], pack: Pack, orders: list[torch.Generator]) -> int:
    """Weights, optimizer, batch orders, every RNG and the histories as the checkpoint left them;
    a member masked before it is masked again. The checkpoint's epoch."""
    pack.step.load(state["weights"])
    pack.step.optimizer.load_state_dict(state["optimizer"])
    for g, s in zip(orders, state["orders"], strict=True):
        g.set_state(s)
    checkpoint.set_rng_state(state["rng"])
    epoch = int(state["epoch"])
    for member, history, masked in zip(pack.members, state["histories"], state["masked"], strict=True):
        member.history = History(**history)
        if masked:
            _mask(member, NonFiniteLoss(f"diverged before epoch {epoch}"))
    return epoch
