"""The training loop: plain values in, a trained model and its history out. No Hydra, no MLflow:
whoever calls it (ablate.run) decides what to do with each epoch through `on_epoch`."""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from ablate import checkpoint
from ablate.data import ImageSet
from ablate.tasks import Task


class NonFiniteLoss(RuntimeError):
    pass


def seed_everything(seed: int) -> None:
    """Python, numpy and torch (all devices) from one seed; seed 0 is a seed like any other."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("trainer.device=cuda but no CUDA device is visible (allowed: auto, cpu, cuda)")
    return torch.device(name)


def snapshot_epochs(epochs: int) -> list[int]:
    """The epochs the article shows progress at (1, 10, 20, 30, 50) that exist, and the last."""
    return sorted({e for e in (1, 10, 20, 30, 50) if e <= epochs} | {epochs})


@dataclass
class History:
    train_loss: list[float] = field(default_factory=list)
    eval_loss: list[float] = field(default_factory=list)
    epoch_seconds: list[float] = field(default_factory=list)


def make_optimizer(model: nn.Module, name: str, lr: float, momentum: float, weight_decay: float):
    if name == "sgd":
        return torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay)
    return torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)


@dataclass
class Evaluation:
    loss: float
    quality: dict[str, float]  # the task's metrics: psnr/ssim, or miou/pixel_acc
    outputs: torch.Tensor | None = None
    latents: torch.Tensor | None = None


@torch.no_grad()
def evaluate(
    model: nn.Module, task: Task, data: ImageSet, batch_size: int, device: torch.device, keep: bool = False
) -> Evaluation:
    """Mean loss and quality metrics over a dataset in eval mode; with keep, outputs and latents."""
    model.eval()
    outputs, latents = [], []
    loss_sum, sums = torch.zeros((), device=device), {}
    for start in range(0, len(data), batch_size):
        images = data.images[start : start + batch_size].to(device)
        labels = None if data.labels is None else data.labels[start : start + batch_size].to(device)
        inputs, target = task.batch(images, labels)
        output, latent = model(inputs)
        loss_sum += task.loss(output, target) * images.shape[0]
        for key, value in task.metric_sums(output, target).items():
            sums[key] = sums[key] + value if key in sums else value
        if keep:
            outputs.append(output.float().cpu())
            latents.append(latent.float().cpu())
    model.train()
    return Evaluation(
        loss=loss_sum.item() / len(data),
        quality=task.reduce(sums, len(data)),
        outputs=torch.cat(outputs) if keep else None,
        latents=torch.cat(latents) if keep else None,
    )


def train(
    model: nn.Module,
    task: Task,
    train_set: ImageSet,
    eval_set: ImageSet,
    *,
    epochs: int,
    batch_size: int,
    optimizer: torch.optim.Optimizer,
    device: torch.device,
    seed: int,
    on_epoch: Callable[[int, dict[str, float]], None] | None = None,
    progress: bool = True,
    desc: str = "train",
    checkpoint_path: Path | None = None,
    resume: dict | None = None,
) -> History:
    """Train for `epochs`; with `resume` (a loaded checkpoint) continue after its epoch exactly as
    if never stopped. After each epoch (and its on_epoch) the checkpoint is rewritten."""
    history = History()
    # the whole (small) dataset stays resident on the device; batches are index slices
    images = train_set.images.to(device)
    labels = None if train_set.labels is None else train_set.labels.to(device)
    order_rng = torch.Generator().manual_seed(seed)
    model.to(device).train()
    first = 1
    if resume is not None:
        model.load_state_dict(resume["model"])
        optimizer.load_state_dict(resume["optimizer"])
        checkpoint.set_rng_state(resume["rng"], order_rng)
        history = History(**resume["history"])
        first = resume["epoch"] + 1

    bar = tqdm(
        range(first, epochs + 1),
        desc=desc,
        disable=not progress,
        leave=False,
        dynamic_ncols=True,
        initial=first - 1,
        total=epochs,
    )
    for epoch in bar:
        tic = time.perf_counter()
        order = torch.randperm(len(train_set), generator=order_rng).to(device)
        loss_sum = torch.zeros((), device=device)  # summed on device: no host sync per step
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            inputs, target = task.batch(images[idx], None if labels is None else labels[idx])
            output, _ = model(inputs)
            loss = task.loss(output, target)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            loss_sum += loss.detach() * idx.numel()
        train_loss = loss_sum.item() / len(order)
        evaluation = evaluate(model, task, eval_set, 4 * batch_size, device)
        eval_loss = evaluation.loss
        if not (math.isfinite(train_loss) and math.isfinite(eval_loss)):
            raise NonFiniteLoss(f"loss became {train_loss} (train) / {eval_loss} (eval) at epoch {epoch}")
        history.train_loss.append(train_loss)
        history.eval_loss.append(eval_loss)
        history.epoch_seconds.append(time.perf_counter() - tic)
        bar.set_postfix(train=f"{train_loss:.3f}", eval=f"{eval_loss:.3f}")
        if on_epoch is not None:
            on_epoch(epoch, {"train_loss": train_loss, "eval_loss": eval_loss, **evaluation.quality})
        if checkpoint_path is not None:
            checkpoint.save(
                checkpoint_path, epoch=epoch, model=model, optimizer=optimizer, order=order_rng, history=asdict(history)
            )
    return history
