"""The measurements of the GPU check (benchmarks/gpu.py), one per fresh process:
`python -m benchmarks.gpu_stages STAGE 'JSON args'` prints one JSON line. Each runs on the
device the check found (CUDA, else the CPU) at the sizes it was given (full, or shrunk for CI)."""

from __future__ import annotations

import json
import sys
import time

from benchmarks.common import sync, timed


def matmul_rate(device, n: int, dtype_name: str) -> float:
    """The device's dense matmul rate (FLOP/s) for n x n operands: the ceiling model FLOP
    utilisation is measured against, measured here rather than taken from a data sheet."""
    import torch

    dtype = getattr(torch, dtype_name)
    a, b = torch.randn(n, n, device=device, dtype=dtype), torch.randn(n, n, device=device, dtype=dtype)
    calls, seconds = 2, 0.0
    while seconds < 0.5 and calls < 4096:  # long enough for the clocks to ramp up and the timer to resolve
        calls *= 2
        seconds = timed(lambda: a @ b, device, warmup=3, steps=calls) * calls
    return 2 * n**3 * calls / seconds


def stage_step(args: dict) -> dict:
    """One training step of a U-Net preset (bf16 autocast on CUDA, channels_last, fused Adam):
    images/s, model FLOP/s against the measured matmul rate, and where the time goes."""
    import torch
    from torch.autograd import DeviceType
    from torch.profiler import ProfilerActivity, profile

    from ablate.engine.setup import autocast, autocast_dtype, make_optimizer, resolve_precision
    from ablate.tasks.autoencode import Autoencode
    from benchmarks.common import build_unet, macs_per_image

    device, batch, size = torch.device(args["device"]), args["batch"], tuple(args["size"])
    torch.manual_seed(0)
    model = build_unet((True, False), args["preset"], size)  # the presets' own arm: skips, no bottleneck
    flop_per_image = 3 * 2 * macs_per_image(model, 1, size)  # forward + two backward products, 2 FLOP per MAC
    model.to(device, memory_format=torch.channels_last).train()
    optimizer, task = make_optimizer(model, "adam", 1e-3, 0.9, 0.0), Autoencode()
    dtype = autocast_dtype(resolve_precision("auto", device))
    x = torch.rand(batch, 1, *size, device=device).contiguous(memory_format=torch.channels_last)

    def step():
        with autocast(device, dtype):
            raw, _ = model(x)
            loss = task.loss(task.output(raw), x)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    seconds = timed(step, device, args["warmup"], args["steps"])
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    with profile(activities=activities) as prof:
        step()
        sync(device)
    if device.type == "cuda":  # the kernels themselves: a launching op and its kernel carry the same time
        events = [e for e in prof.key_averages() if e.device_type == DeviceType.CUDA and not e.is_user_annotation]
        attr = "self_device_time_total"
    else:
        events, attr = list(prof.key_averages()), "self_cpu_time_total"
    events.sort(key=lambda e: -getattr(e, attr, 0))
    total = sum(getattr(e, attr, 0) for e in events) or 1
    top = [{"op": e.key[:80], "share": getattr(e, attr, 0) / total} for e in events[:8]]
    peak = matmul_rate(device, args["matmul_n"], "bfloat16" if dtype is not None else "float32")
    achieved = flop_per_image * batch / seconds
    return {
        "preset": args["preset"],
        "size": list(size),
        "batch": batch,
        "precision": str(dtype or "fp32"),
        "parameters": sum(p.numel() for p in model.parameters()),
        "step_seconds": seconds,
        "images_per_second": batch / seconds,
        "model_flops": achieved,
        "matmul_flops": peak,
        "mfu": achieved / peak,
        "top_ops": top,
    }


def stage_packing(args: dict) -> dict:
    """The mnist preset: R replicates packed in one vectorized model vs the same R one model at a
    time, per-model images/s (benchmarks/packing.py, on this device)."""
    import torch

    from benchmarks.packing import measure

    rows = []
    for precision in args.get("precisions", ["fp32"]):  # the same ways as the CPU's table, per precision
        base = {"arm": [True, True], "steps": args["steps"], "warmup": 3, "device": args["device"]}
        base["precision"] = precision
        alone = measure({**base, "replicates": 1, "mode": "alone"}, torch.get_num_threads())  # one model's rate
        for r in args["replicates"]:
            packed = measure({**base, "replicates": r, "mode": "packed"}, torch.get_num_threads())
            rows.append(
                {
                    "precision": precision,
                    "replicates": r,
                    "alone_images_per_second": alone["images"] / alone["step_seconds"],
                    "packed_images_per_second": packed["images"] / packed["step_seconds"],
                    "speedup": alone["step_seconds"] / (packed["step_seconds"] / r),
                }
            )
    return {"rows": rows}


def stage_kmeans(args: dict) -> dict:
    """Seeds x restarts of k-means on raw images (the bundled 5k repeated to `n`): ablate's torch
    k-means on this device against scikit-learn on this machine's CPUs, with the purity of each."""
    import numpy as np
    import torch
    from sklearn.cluster import KMeans

    from ablate.data.mnist5k import load
    from ablate.evaluate import purity
    from ablate.evaluate.kmeans_torch import kmeans_labels_batched

    data = load()
    order = torch.randperm(len(data.images), generator=torch.Generator().manual_seed(0))  # the set is sorted by digit
    reps = -(-args["n"] // len(data.images))
    x = data.images[order].flatten(1).repeat(reps, 1)[: args["n"]].float()
    y = data.labels[order].repeat(reps)[: args["n"]].numpy()
    seeds, n_init, device = list(range(args["seeds"])), args["n_init"], torch.device(args["device"])
    features = x.to(device)
    kmeans_labels_batched(features[:256], 10, seeds[:1], 1)  # kernels loaded before the clock
    sync(device)
    tic = time.perf_counter()
    labels, _ = kmeans_labels_batched(features, 10, seeds, n_init)
    labels = labels.cpu().numpy()
    ours = time.perf_counter() - tic
    # scikit-learn: as many seeds as fit its time share, each the full n_init restarts
    sk_seeds, sk_purity, tic = 0, [], time.perf_counter()
    while sk_seeds < len(seeds) and (sk_seeds == 0 or time.perf_counter() - tic < args["sklearn_budget_s"]):
        km = KMeans(10, n_init=n_init, random_state=seeds[sk_seeds]).fit(x.numpy())
        sk_purity.append(purity(y, km.labels_))
        sk_seeds += 1
    per_seed_sk = (time.perf_counter() - tic) / sk_seeds
    ours_purity = [purity(y, row) for row in labels]
    return {
        "n": args["n"],
        "seeds": len(seeds),
        "n_init": n_init,
        "torch_seconds": ours,
        "torch_purity": float(np.mean(ours_purity)),
        "sklearn_seeds_run": sk_seeds,
        "sklearn_seconds_per_seed": per_seed_sk,
        "sklearn_purity": float(np.mean(sk_purity)),
        "speedup": per_seed_sk * len(seeds) / ours,
    }


STAGES = {"step": stage_step, "packing": stage_packing, "kmeans": stage_kmeans}

if __name__ == "__main__":
    print(json.dumps(STAGES[sys.argv[1]](json.loads(sys.argv[2]))), flush=True)
