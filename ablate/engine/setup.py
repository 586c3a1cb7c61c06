"""What the loop is set up with: seeds, the device, the precision, the optimizer and the data
resident on the device."""

from __future__ import annotations

import random

import numpy as np
import torch
from torch import nn

from ablate.data import ImageSet


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


def on_device(data: ImageSet, device: torch.device, layout: torch.memory_format) -> ImageSet:
    """The whole (small) set resident on the device: batches are index slices, no copies per epoch."""
    labels = None if data.labels is None else data.labels.to(device)
    return ImageSet(data.images.to(device).contiguous(memory_format=layout), labels, data.name)
