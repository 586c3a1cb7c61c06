"""What every benchmark shares: the data, the four arms, the machine, and running a worker."""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ARMS = [(True, False), (True, True), (False, False), (False, True)]  # (skip, bottleneck), the default 2x2
FLAGS = ["amx_bf16", "amx_tile", "avx512_bf16", "avx512_f", "avx2"]
SPIN_VARS = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")  # OpenMP's wait policy: ablate's default unless a caller sets one
OLD_SPIN = {"OMP_WAIT_POLICY": "PASSIVE"}  # ablate's default before GOMP_SPINCOUNT=10000


def arm_name(arm) -> str:
    skip, bottleneck = arm
    return f"skip={str(skip).lower()} bottleneck={str(bottleneck).lower()}"


def mnist_split(repeat: int = 1):
    """The bundled 5k MNIST (repeated `repeat` times for the scale rows) cut 80/20 as a job does."""
    import torch

    from ablate.data import ImageSet, split
    from ablate.data.mnist5k import load

    data = load()
    if repeat > 1:
        data = ImageSet(data.images.repeat(repeat, 1, 1, 1), data.labels.repeat(repeat), data.name)
    torch.manual_seed(0)
    return split(data, 0.2, 0)


def build_unet(arm, preset: str = "mnist", input_size=(28, 28)):
    from ablate.models.unet import UNet

    skip, bottleneck = arm
    channels, middle = ((4, 8), 16) if preset == "mnist" else ((64, 128, 256, 512), 1024)
    return UNet(1, 1, channels, middle, skip, bottleneck, 16, input_size)


def macs(model, size=(28, 28)) -> int:
    """Multiply-accumulates of one forward pass of one image."""
    return macs_per_image(model, 1, size)


def macs_per_image(model, in_channels: int, input_size: tuple[int, int]) -> int:
    """Multiply-accumulates of one forward pass (convolutions and dense layers)."""
    import torch
    from torch import nn

    total = 0

    def hook(module, inputs, output):
        nonlocal total
        if isinstance(module, nn.Conv2d):
            total += output.numel() * module.in_channels // module.groups * math.prod(module.kernel_size)
        elif isinstance(module, nn.ConvTranspose2d):
            total += inputs[0].numel() * module.out_channels * math.prod(module.kernel_size)
        elif isinstance(module, nn.Linear):
            total += module.in_features * module.out_features * output.shape[0]

    handles = [m.register_forward_hook(hook) for m in model.modules()]
    was_training = model.training
    model.eval()
    with torch.no_grad():
        model(torch.zeros(1, in_channels, *input_size))
    model.train(was_training)
    for h in handles:
        h.remove()
    return total


def machine() -> dict[str, str]:
    import torch

    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in line
        ),
        platform.processor() or "unknown",
    )
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    return {
        "cpu": cpu,
        "cores": str(len(os.sched_getaffinity(0))),
        "gpu": gpu,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }


def flags() -> list[str]:
    """The processor's flags that decide the training precision and its speed (torch's cpuinfo probe)."""
    import torch

    try:
        found = torch._C._cpu._get_cpu_capability()
    except (AttributeError, RuntimeError):
        return []
    return [name for name in FLAGS if found.get(name) is True]


def load_average() -> float:
    return os.getloadavg()[0]


def worker(task: str, args: dict, threads: int, env: dict[str, str] | None = None, timeout: float = 900):
    """Run benchmarks/worker.py TASK in a fresh process with `threads` threads for every runtime
    (torch, OpenMP, BLAS); returns the JSON it prints last."""
    proc = start_worker(task, args, threads, env)
    return finish_worker(proc, timeout)


def start_worker(task: str, args: dict, threads: int, env: dict[str, str] | None = None) -> subprocess.Popen:
    """OpenMP's wait policy is ablate's default (benchmarks/worker.py imports ablate before torch)
    unless `env` sets one: the caller's OMP_WAIT_POLICY / GOMP_SPINCOUNT are not inherited."""
    inherited = {k: v for k, v in os.environ.items() if k not in SPIN_VARS}
    full_env = {**inherited, **(env or {}), "ABLATE_BENCH_THREADS": str(threads)}
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        full_env[var] = str(threads)
    full_env["MLFLOW_DISABLE_TELEMETRY"] = "true"
    return subprocess.Popen(
        [sys.executable, "-m", "benchmarks.worker", task, json.dumps(args)],
        cwd=ROOT,
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish_worker(proc: subprocess.Popen, timeout: float = 900):
    out, err = proc.communicate(timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark worker failed ({proc.args[3]}):\n{err[-3000:]}")
    return json.loads(out.strip().splitlines()[-1])


def sync(device) -> None:
    """Wait for the device's queued work (CUDA runs asynchronously: time the work, not its queueing)."""
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(step, device, warmup: int, steps: int) -> float:
    """Seconds per call of `step` after `warmup` calls, the device drained on both ends."""
    for _ in range(warmup):
        step()
    sync(device)
    tic = time.perf_counter()
    for _ in range(steps):
        step()
    sync(device)
    return (time.perf_counter() - tic) / steps
