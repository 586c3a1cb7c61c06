"""What differs between training one model and a pack: the step, one pass over the training set
for every member of what the loop trains. The loop (ablate/engine/train.py) is the same for both.

- `PlainStep`: one model (R = 1), optionally compiled and in channels_last;
- `PackStep`: R replicates of one architecture as one vectorized model (ablate/engine/vectorized.py).

A step's weights are the checkpoint's: every parameter and buffer stacked along a leading member
axis, (R, ...), so a checkpoint has one format whatever trained it.

`freeze(r)`: member r stopped (trainer.stop=converged) and nothing of it may change afterwards.
One model: nothing to do, the loop runs no pass after its only member stopped. A pack keeps the
stopped member in place and restores its slice after every later pass: its parameters, its
buffers (BatchNorm's running statistics, which the pack's forward updates for every slice) and
its optimizer state (Adam's exp_avg / exp_avg_sq, SGD's momentum_buffer: a zero gradient would
still move a slice through its momentum). The pack is not re-formed without it (that would change
the others' float rounding and the checkpoint's shape), so the frozen slice's compute is still
spent, every pass, until the pack ends: the loop charges it to the members still training. Only
the optimizer's step count, one per stacked tensor, goes on: it is the pack's, shared by every
slice, and a stopped member reads it no more.
"""

from __future__ import annotations

from typing import Protocol

import torch
from torch import nn

from ablate.data import ImageSet
from ablate.engine.setup import autocast
from ablate.engine.vectorized import Stack, train_epoch
from ablate.tasks import Task


class Step(Protocol):
    optimizer: torch.optim.Optimizer
    layout: torch.memory_format  # the memory format the data is kept in

    def __call__(
        self,
        task: Task,
        data: ImageSet,
        orders: torch.Tensor,
        batch_size: int,
        device: torch.device,
        dtype: torch.dtype | None,
    ) -> list[float]:
        """One pass, member r in the order orders[r] ((R, N)); each member's mean training loss.
        Afterwards each member's model holds its new weights."""
        ...

    def weights(self) -> dict[str, torch.Tensor]: ...

    def load(self, weights: dict[str, torch.Tensor]) -> None: ...

    def freeze(self, member: int) -> None:
        """Member `member` stopped: nothing of it changes in later passes."""
        ...


class PlainStep:
    """One model. `compile_model`: torch.compile (BatchNorm, activations and pooling fused into
    generated kernels; the first epoch pays the compilation, cached on disk for later jobs);
    `channels_last`: NHWC (oneDNN and cuDNN convolutions without layout reorders)."""

    def __init__(
        self,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        device: torch.device,
        channels_last: bool = False,
        compile_model: bool = False,
    ) -> None:
        self.model, self.optimizer = model, optimizer
        self.layout = torch.channels_last if channels_last else torch.contiguous_format
        model.to(device, memory_format=self.layout).train()
        self.net = torch.compile(model, dynamic=False) if compile_model else model  # see plain_epoch

    def __call__(self, task, data, orders, batch_size, device, dtype) -> list[float]:
        return [plain_epoch(self.model, self.net, task, data, orders[0], batch_size, self.optimizer, device, dtype)]

    def weights(self) -> dict[str, torch.Tensor]:
        return {k: v.unsqueeze(0) for k, v in self.model.state_dict().items()}

    def load(self, weights: dict[str, torch.Tensor]) -> None:
        self.model.load_state_dict({k: v[0] for k, v in weights.items()})

    def freeze(self, member: int) -> None:
        """Nothing to do: once its only member stopped, the loop runs no further pass."""


class PackStep:
    """A pack's replicates as one vectorized model; one optimizer over the stacked tensors (Adam
    and SGD act element by element: R optimizers). The data stays in the default layout."""

    layout = torch.contiguous_format

    def __init__(self, stack: Stack, optimizer: torch.optim.Optimizer) -> None:
        self.stack, self.optimizer = stack, optimizer
        self.frozen: dict[int, dict[str, torch.Tensor]] = {}  # a stopped member's slices, as it stopped

    def __call__(self, task, data, orders, batch_size, device, dtype) -> list[float]:
        losses = train_epoch(self.stack, task, data, orders, batch_size, self.optimizer, device, dtype).tolist()
        self._keep_frozen()
        self.stack.unstack()
        return losses

    @torch.no_grad()
    def freeze(self, member: int) -> None:
        self.frozen[member] = {name: t[member].clone() for name, t in self._stacked().items()}

    @torch.no_grad()
    def _keep_frozen(self) -> None:
        """Each stopped member's slices back as they were when it stopped (the pass moved them)."""
        if not self.frozen:
            return
        stacked = self._stacked()
        for member, saved in self.frozen.items():
            for name, value in saved.items():
                stacked[name][member].copy_(value)

    def _stacked(self) -> dict[str, torch.Tensor]:
        """Every tensor with a slice per member, by name: parameters, buffers and the optimizer's
        per-element state (read afresh: loading a checkpoint replaces the optimizer's tensors)."""
        tensors = {f"param {k}": v for k, v in self.stack.params.items()}
        tensors.update({f"buffer {k}": v for k, v in self.stack.buffers.items()})
        for name, p in self.stack.params.items():
            for key, v in self.optimizer.state.get(p, {}).items():
                if torch.is_tensor(v) and v.shape == p.shape:  # element by element: not the shared step count
                    tensors[f"optimizer {name} {key}"] = v
        return tensors

    def weights(self) -> dict[str, torch.Tensor]:
        return self.stack.weights()

    def load(self, weights: dict[str, torch.Tensor]) -> None:
        self.stack.load(weights)


def plain_epoch(
    model: nn.Module,
    net: nn.Module,
    task: Task,
    data: ImageSet,
    order: torch.Tensor,
    batch_size: int,
    optimizer: torch.optim.Optimizer,
    device: torch.device,
    dtype: torch.dtype | None,
) -> float:
    """One pass over the training set in `order`; the mean training loss.

    `net` is `model` compiled (or `model` itself), sharing its parameters. Only the full batches
    run compiled, with static shapes: one graph (forward + backward) to compile per job instead of
    four (last partial batch, eval batches), and which kernels a batch uses depends on its size
    only, so a resumed run computes exactly as an uninterrupted one (dynamic shapes would switch
    kernels after the first partial batch). The eval pass and the partial batch stay eager."""
    loss_sum = torch.zeros((), device=device)  # summed on device: no host sync per step
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        inputs, target = task.batch(data.images[idx], None if data.labels is None else data.labels[idx])
        with autocast(device, dtype):
            raw, _ = (net if idx.numel() == batch_size else model)(inputs)
            loss = task.loss(task.output(raw), target)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        loss_sum += loss.detach() * idx.numel()
    return loss_sum.item() / len(order)
