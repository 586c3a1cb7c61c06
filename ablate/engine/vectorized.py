"""R models of one architecture as one vectorized model (torch.func), and its training pass.

`Stack` holds the replicates' parameters and buffers stacked along a leading axis and runs
`vmap(functional_call)` over it; the models themselves stay the replicates' own (they evaluate,
log and checkpoint as one model does) and get the stacked values back after each epoch. Every
slice runs in every pass, a stopped replicate's too: its step (ablate/engine/steps.py's PackStep)
puts its slice back afterwards.
"""

from __future__ import annotations

import copy

import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

from ablate.data import ImageSet
from ablate.engine.setup import autocast


class Stack:
    def __init__(self, models: list[nn.Module]):
        self.models = models
        self.params, self.buffers = stack_module_state(models)  # parameters are new leaves (trained)
        self.base = copy.deepcopy(models[0]).to("meta")  # the architecture only, no memory
        # randomness="error": a forward with random ops (dropout) cannot draw one stream per seed
        self.forward = vmap(self._one, randomness="error")

    def _one(self, params, buffers, x):
        return functional_call(self.base, (params, buffers), (x,))

    def __call__(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x: (R, B, ...) -> (outputs (R, B, ...), latents (R, B, D))."""
        return self.forward(self.params, self.buffers, x)

    def probe(self, x: torch.Tensor) -> None:
        """Run one training-mode forward and backward on copies (buffers unchanged): raises what
        vmap cannot do with this model (random ops, ops without a batching rule)."""
        self.base.train()
        buffers = {k: v.clone() for k, v in self.buffers.items()}
        out, latent = self.forward(self.params, buffers, x)
        (out.float().sum() + latent.float().sum()).backward()
        for p in self.params.values():
            p.grad = None

    @torch.no_grad()
    def unstack(self) -> None:
        """The stacked values back into each replicate's own model."""
        for r, model in enumerate(self.models):
            for name, value in self.params.items():
                model.get_parameter(name).copy_(value[r])
            for name, value in self.buffers.items():
                model.get_buffer(name).copy_(value[r])

    def weights(self) -> dict[str, torch.Tensor]:
        """Every parameter and buffer, stacked (R, ...): the checkpoint's weights."""
        return {**{k: v.detach() for k, v in self.params.items()}, **self.buffers}

    @torch.no_grad()
    def load(self, weights: dict[str, torch.Tensor]) -> None:
        for k, v in weights.items():
            (self.params if k in self.params else self.buffers)[k].copy_(v)
        self.unstack()


def stack_or_why(models: list[nn.Module], task, data: ImageSet, device: torch.device) -> tuple[Stack | None, str]:
    """The models as one Stack, probed on two training images; or None and one line saying why
    they cannot be vectorized (random ops in forward, an op vmap lacks)."""
    try:
        stack = Stack(models)
        labels = None if data.labels is None else data.labels[:2].to(device)
        x = task.batch(data.images[:2].to(device), labels)[0]
        stack.probe(x.unsqueeze(0).expand(len(models), *x.shape).contiguous())
    except Exception as exc:  # noqa: BLE001 - whatever vmap refuses: one line why
        name = type(models[0]).__name__
        return None, f"{name} cannot be vectorized ({type(exc).__name__}: {' '.join(str(exc).split())[:160]})"
    return stack, ""


def train_epoch(
    stack: Stack,
    task,
    data: ImageSet,
    orders: torch.Tensor,
    batch_size: int,
    optimizer,
    device: torch.device,
    dtype,
) -> torch.Tensor:
    """One pass over the training set, each replicate in its own order (orders: (R, N)); each
    replicate's mean training loss, (R,). The step minimises the SUM of the replicates' losses, so
    each gets exactly its own gradient."""
    stack.base.train()
    replicates, n = orders.shape
    loss_sums = torch.zeros(replicates, device=device)  # summed on device: no host sync per step
    for start in range(0, n, batch_size):
        idx = orders[:, start : start + batch_size]  # (R, b)
        size = idx.shape[1]
        labels = None if data.labels is None else data.labels[idx].flatten(0, 1)
        inputs, target = task.batch(data.images[idx].flatten(0, 1), labels)  # the task sees plain images
        with autocast(device, dtype):
            raw, _ = stack(inputs.unflatten(0, (replicates, size)))
            target = target.unflatten(0, (replicates, size))
            losses = torch.stack([task.loss(task.output(raw[r]), target[r]) for r in range(replicates)])
        optimizer.zero_grad(set_to_none=True)
        losses.sum().backward()
        optimizer.step()
        loss_sums += losses.detach().float() * size
    return loss_sums / n
