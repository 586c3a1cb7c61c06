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


# bf16 pays on a CPU only with AMX-BF16: the mnist preset's training step measured about 1.5x
# faster than fp32 with it (reports/benchmarks.md), and, on the same Intel Xeon with oneDNN held
# to a lower ISA (ONEDNN_MAX_CPU_ISA), 1.6x slower with AVX512-BF16 alone and 3x slower where bf16
# is emulated (AVX512, AVX2). But fp32 and bf16 were not shown to give equivalent answers
# (reports/equivalence.md: 20 epochs, 10 seeds per arm, the purity of the two arms without skips
# undecided at a margin of half the seed-to-seed SD), so `auto` keeps the CPU in fp32 until a
# rerun with the seeds it sized shows them equivalent.
CPU_BF16_SHOWN_EQUIVALENT = False


def auto_precision(device: torch.device) -> str:
    """What `trainer.precision=auto` means on `device`, by a fixed rule (never a timing):

    - CUDA: bf16 where the GPU supports it natively (tensor cores), else fp32;
    - CPU: fp32; bf16 on a processor with AMX-BF16 once shown equivalent (above).
      `torch.ops.mkldnn._is_mkldnn_bf16_supported()` is True wherever oneDNN can emulate bf16, so
      it is no detector; the processor's AMX-BF16 flag is.

    Under autocast BatchNorm, the loss and the optimizer's state stay fp32; the final evaluation
    runs in fp32 whatever the training precision (ablate/evaluate/final.py)."""
    if device.type == "cuda":  # emulated bf16 (before Ampere) is slower than fp32
        return "bf16" if torch.cuda.is_bf16_supported(including_emulation=False) else "fp32"
    if device.type == "cpu" and CPU_BF16_SHOWN_EQUIVALENT and cpu_has_amx_bf16():
        return "bf16"
    return "fp32"


def cpu_has_amx_bf16() -> bool:
    try:  # torch's own CPU feature probe (cpuinfo); a build without it counts as no AMX
        return bool(torch._C._cpu._get_cpu_capability().get("amx_bf16", False))
    except (AttributeError, RuntimeError):
        return False


def resolve_precision(name: str, device: torch.device) -> str:
    """`fp32` or `bf16`: the name itself, or `auto`'s choice on `device`."""
    return auto_precision(device) if name == "auto" else name


def autocast_dtype(precision: str) -> torch.dtype | None:
    """The autocast dtype of a resolved precision, or None for plain fp32."""
    return torch.bfloat16 if precision == "bf16" else None


def autocast(device: torch.device, dtype: torch.dtype | None):
    return torch.autocast(device.type, dtype=dtype, enabled=dtype is not None)


def on_device(data: ImageSet, device: torch.device, layout: torch.memory_format) -> ImageSet:
    """The whole (small) set resident on the device: batches are index slices, no copies per epoch."""
    labels = None if data.labels is None else data.labels.to(device)
    return ImageSet(data.images.to(device).contiguous(memory_format=layout), labels, data.name)
