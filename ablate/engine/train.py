"""The training loop, one for one model and for a pack: plain values in, trained models and
their histories out. No Hydra, no MLflow: whoever calls it (ablate.job) decides what to do with
each member's epoch through its callbacks.

What it trains is a `Pack`: members (a model, the seed of its batch order, its callbacks and
history) and one `Step` that trains them all (ablate/engine/steps.py): the plain step for one
model (R = 1), the vectorized step for a pack of replicates. Each epoch: every member's batch
order is drawn from its own generator, the step makes one pass over the training set, each live
member is evaluated on its own; a member whose loss goes non-finite is masked (its `on_fail`; it
keeps its place in a pack, the others' numbers stay as they were) or, without `on_fail`, the
error is raised. Then the members' `on_epoch`, the pack's `after_epoch`, the stops, and the
checkpoint (ablate/engine/checkpoint.py), rewritten after every epoch: `resume` (a loaded
checkpoint) continues after its epoch exactly as if never stopped.

Stops (`spec.stop`, trainer.stop=converged): a member whose eval loss satisfies the rule
(ablate/engine/convergence.py) after an epoch is stopped at that epoch: the step freezes it (in a
pack its slice no longer changes: ablate/engine/steps.py), it is no longer evaluated or logged,
and its `on_stop(epoch)` runs once the checkpoint that records the stop is written. So a kill at
any moment resumes to the same numbers: a checkpoint either predates the stop (the epoch is redone
and the member stops again) or records it (the member is frozen again and its `on_stop` called
again: a caller whose stop was already handled, its run finished, gives that member none).
`on_stop` runs with the global RNGs put back afterwards, so the members still training draw the
same numbers whether or not it runs in this process. The loop ends at `spec.epochs` (the
ceiling) or once no member is still training.
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
from ablate.engine.convergence import Rule, stop_rule
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
    stop: Rule | None = None  # trainer.stop=converged: each member stops once it holds (None: at `epochs`)

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
            stop=stop_rule(t),
        )

    def plain_step(self, model: nn.Module, optimizer: torch.optim.Optimizer) -> PlainStep:
        return PlainStep(model, optimizer, self.device, self.channels_last, self.compile_model)


@dataclass
class Member:
    """One model the loop trains, and what its caller does with it: `on_epoch(epoch, metrics)`
    after each epoch; `on_fail(error)` when its loss goes non-finite (it is then masked);
    `on_stop(epoch)` once it has stopped (trainer.stop=converged; after that epoch's `on_epoch`
    and checkpoint)."""

    model: nn.Module
    seed: int  # its batch order's
    on_epoch: Callable[[int, dict[str, float]], None] | None = None
    on_fail: Callable[[NonFiniteLoss], None] | None = None  # None: the error is raised
    on_stop: Callable[[int], None] | None = None
    history: History = field(default_factory=History)
    live: bool = True  # False once masked
    stopped_at: int | None = None  # the epoch it stopped at (frozen since), None while it trains

    @property
    def training(self) -> bool:
        """Neither masked nor stopped: evaluated, logged and judged after each epoch."""
        return self.live and self.stopped_at is None


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
    """Train the pack up to `spec.epochs` (after `resume`'s epoch); each member's history."""
    members, device = pack.members, spec.device
    dtype = autocast_dtype(resolve_precision(spec.precision, device))
    train_set, eval_set = on_device(train_set, device, pack.step.layout), on_device(eval_set, device, pack.step.layout)
    orders = [torch.Generator().manual_seed(m.seed) for m in members]  # each member's own batch order
    first = 1 if resume is None else _restore(resume, pack, orders) + 1
    bar = Progress(spec.desc, first, spec.epochs, spec.progress)
    for epoch in range(first, spec.epochs + 1):
        if not any(m.training for m in members):  # every member masked or stopped (also before a resumed epoch)
            break
        done = _epoch(epoch, pack, task, train_set, eval_set, spec, dtype, orders)
        if len(members) == 1 and done:
            bar.update(epoch, train=done[0][1]["train_loss"], eval=done[0][1]["eval_loss"])
        elif done:
            bar.update(epoch, eval_mean=sum(v["eval_loss"] for _, v in done) / len(done))
        for member, values in done:
            if member.on_epoch is not None:
                member.on_epoch(epoch, values)
        if pack.after_epoch is not None and done:
            pack.after_epoch(epoch)
        stopped = _stop(epoch, pack, spec.stop)
        if spec.checkpoint is not None:
            _save(spec.checkpoint, epoch, pack, orders)
        _stopped(stopped)  # after the checkpoint that records the stops (see the module's docstring)
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
    """One step over the training set, then each training member's eval pass: (member, its metrics)
    for each member still training. A member's time is its share of the step and its own eval. A
    stopped member's frozen slice still runs in a pack's step: its share is charged to the members
    still training, so their times add up to what the step cost."""
    members, device = pack.members, spec.device
    payers = len(members) - sum(m.stopped_at is not None for m in members)  # a masked slice's share: as before
    tic, cpu = time.perf_counter(), time.process_time()
    order = torch.stack([torch.randperm(len(train_set), generator=g) for g in orders]).to(device)
    losses = pack.step(task, train_set, order, spec.batch_size, device, dtype)
    shared, shared_cpu = (time.perf_counter() - tic) / payers, (time.process_time() - cpu) / payers
    done = []
    for member, loss in zip(members, losses, strict=True):
        if not member.training:
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


def _stop(epoch: int, pack: Pack, rule: Rule | None) -> list[Member]:
    """The members still training whose eval loss satisfies the rule by `epoch`: stopped there,
    their slice frozen by the step."""
    if rule is None:
        return []
    stopped = [(i, m) for i, m in enumerate(pack.members) if m.training and rule.holds(m.history.eval_loss)]
    for i, member in stopped:
        member.stopped_at = epoch
        pack.step.freeze(i)
    return [m for _, m in stopped]


def _stopped(members: list[Member]) -> None:
    """Each stopped member's `on_stop`, with the global RNGs put back afterwards: whatever it draws
    (a job's final evaluation), the members still training draw the same numbers as they would in
    a run resumed from the checkpoint, where it may already have run."""
    calls = [m for m in members if m.on_stop is not None]
    if not calls:
        return
    rng = checkpoint.rng_state()
    try:
        for member in calls:
            member.on_stop(member.stopped_at)
    finally:
        checkpoint.set_rng_state(rng)


def _save(path: Path, epoch: int, pack: Pack, orders: list[torch.Generator]) -> None:
    checkpoint.save(
        path,
        epoch=epoch,
        weights=pack.step.weights(),
        optimizer=pack.step.optimizer,
        orders=orders,
        histories=[asdict(m.history) for m in pack.members],
        masked=[not m.live for m in pack.members],
        stopped=[m.stopped_at for m in pack.members],
        meta=pack.meta,
    )


def _restore(state: dict[str, Any], pack: Pack, orders: list[torch.Generator]) -> int:
    """Weights, optimizer, batch orders, every RNG and the histories as the checkpoint left them;
    a member masked before it is masked again, one stopped before is frozen again and its
    `on_stop` called (again: see the module's docstring). The checkpoint's epoch."""
    pack.step.load(state["weights"])
    pack.step.optimizer.load_state_dict(state["optimizer"])
    for g, s in zip(orders, state["orders"], strict=True):
        g.set_state(s)
    checkpoint.set_rng_state(state["rng"])
    epoch = int(state["epoch"])
    stops = state.get("stopped") or [None] * len(pack.members)  # a checkpoint from before stops: none stopped
    rows = zip(pack.members, state["histories"], state["masked"], stops, strict=True)
    for i, (member, history, masked, stopped_at) in enumerate(rows):
        member.history = History(**history)
        if masked:
            _mask(member, NonFiniteLoss(f"diverged before epoch {epoch}"))
        elif stopped_at is not None:
            member.stopped_at = int(stopped_at)
            pack.step.freeze(i)  # after the weights and the optimizer are loaded: its values as it stopped
    _stopped([m for m in pack.members if m.stopped_at is not None])
    return epoch
