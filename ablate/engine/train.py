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

from ablate.data import ImageSet
from ablate.engine import checkpoint
from ablate.engine.progress import Progress
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
    epoch_cpu: list[float] = field(default_factory=list)  # process time (all threads): the cost, not the wait


def make_optimizer(
    model: nn.Module | list[torch.Tensor],
    name: str,
    lr: float,
    momentum: float,
    weight_decay: float,
    fused: bool | None = None,
):
    """For a model, or a list of tensors (a pack's stacked parameters). `fused` None: the fused
    kernels on CUDA (one launch per step instead of one per tensor), PyTorch's default (foreach)
    elsewhere, where the fused CPU kernels measured no faster."""
    params = list(model.parameters()) if isinstance(model, nn.Module) else list(model)
    if fused is None:
        fused = params[0].is_cuda
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay, fused=fused)
    return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay, fused=fused)


def resolve_precision(name: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype, or None for plain fp32. `auto`: bf16 on a CUDA device that supports it
    (tensor cores; BatchNorm and the loss stay fp32 under autocast), fp32 on the CPU (no bf16 units
    on most CPUs: slower, and the CPU results stay bit-identical to earlier runs)."""
    if name == "fp32":
        return None
    if name == "bf16":
        return torch.bfloat16
    if device.type == "cuda" and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return None


def autocast(device: torch.device, dtype: torch.dtype | None):
    return torch.autocast(device.type, dtype=dtype, enabled=dtype is not None)


@dataclass
class Evaluation:
    loss: float
    quality: dict[str, float]  # the task's metrics: psnr/ssim, or miou/pixel_acc
    outputs: torch.Tensor | None = None
    latents: torch.Tensor | None = None


@torch.no_grad()
def evaluate(
    model: nn.Module,
    task: Task,
    data: ImageSet,
    batch_size: int,
    device: torch.device,
    keep: bool = False,
    dtype: torch.dtype | None = None,
) -> Evaluation:
    """Mean loss and quality metrics over a dataset in eval mode; with keep, outputs and latents.
    `dtype`: the autocast dtype (None: fp32)."""
    model.eval()
    outputs, latents = [], []
    loss_sum, sums = torch.zeros((), device=device), {}
    for start in range(0, len(data), batch_size):
        images = data.images[start : start + batch_size].to(device)
        labels = None if data.labels is None else data.labels[start : start + batch_size].to(device)
        inputs, target = task.batch(images, labels)
        with autocast(device, dtype):
            raw, latent = model(inputs)
            output = task.output(raw)
            loss_sum += task.loss(output, target).float() * images.shape[0]
        output = output.float()  # metrics in fp32 (a no-op without autocast)
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


def on_device(data: ImageSet, device: torch.device, layout: torch.memory_format) -> ImageSet:
    """The whole (small) set resident on the device: batches are index slices, no copies per epoch."""
    labels = None if data.labels is None else data.labels.to(device)
    return ImageSet(data.images.to(device).contiguous(memory_format=layout), labels, data.name)


def _train_epoch(model, net, task: Task, data: ImageSet, order: torch.Tensor, batch_size: int, optimizer,
                 device: torch.device, dtype) -> float:  # fmt: skip
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


def _restore(resume: dict, model: nn.Module, optimizer, order_rng: torch.Generator) -> tuple[History, int]:
    """Model, optimizer and every RNG as the checkpoint left them: (its history, the next epoch)."""
    model.load_state_dict(resume["model"])
    optimizer.load_state_dict(resume["optimizer"])
    checkpoint.set_rng_state(resume["rng"], order_rng)
    return History(**resume["history"]), resume["epoch"] + 1


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
    precision: str = "fp32",
    channels_last: bool = False,
    compile_model: bool = False,
) -> History:
    """Train for `epochs`; with `resume` (a loaded checkpoint) continue after its epoch exactly as
    if never stopped. After each epoch (and its on_epoch) the checkpoint is rewritten.

    Speed switches (ablate.config.TrainerConfig): `precision` (auto, fp32, bf16 autocast),
    `channels_last` (NHWC: oneDNN and cuDNN convolutions without layout reorders) and
    `compile_model` (torch.compile: BatchNorm, activations and pooling fused into generated
    kernels; the first epoch pays the compilation, cached on disk for later jobs)."""
    history, order_rng = History(), torch.Generator().manual_seed(seed)
    layout = torch.channels_last if channels_last else torch.contiguous_format
    dtype = resolve_precision(precision, device)
    train_set, eval_set = on_device(train_set, device, layout), on_device(eval_set, device, layout)
    model.to(device, memory_format=layout).train()
    net = torch.compile(model, dynamic=False) if compile_model else model  # see _train_epoch
    history, first = _restore(resume, model, optimizer, order_rng) if resume is not None else (history, 1)

    bar = Progress(desc, first, epochs, progress)
    for epoch in range(first, epochs + 1):
        tic, cpu = time.perf_counter(), time.process_time()
        order = torch.randperm(len(train_set), generator=order_rng).to(device)
        train_loss = _train_epoch(model, net, task, train_set, order, batch_size, optimizer, device, dtype)
        evaluation = evaluate(model, task, eval_set, 4 * batch_size, device, dtype=dtype)
        eval_loss = evaluation.loss
        if not (math.isfinite(train_loss) and math.isfinite(eval_loss)):
            raise NonFiniteLoss(f"loss became {train_loss} (train) / {eval_loss} (eval) at epoch {epoch}")
        history.train_loss.append(train_loss)
        history.eval_loss.append(eval_loss)
        history.epoch_seconds.append(time.perf_counter() - tic)
        history.epoch_cpu.append(time.process_time() - cpu)
        bar.update(epoch, train=train_loss, eval=eval_loss)
        if on_epoch is not None:
            on_epoch(epoch, {"train_loss": train_loss, "eval_loss": eval_loss, **evaluation.quality})
        if checkpoint_path is not None:
            state = {"model": model, "optimizer": optimizer, "order": order_rng, "history": asdict(history)}
            checkpoint.save(checkpoint_path, epoch=epoch, **state)
    bar.close()
    return history
