"""One measurement in a fresh process: `python -m benchmarks.worker TASK 'JSON args'` prints a JSON
line. The parent (benchmarks/run.py) sets the thread count through the environment before Python
starts, so torch, OpenMP and BLAS all use exactly that many threads."""

from __future__ import annotations

import json
import os
import statistics
import sys
import time

import ablate  # noqa: F401 - before torch, as in a job: ablate's OpenMP default is set before torch loads OpenMP


def _threads() -> int:
    return int(os.environ.get("ABLATE_BENCH_THREADS", "2"))


def _raw_mnist(n: int):
    """Raw pixels in [0, 1] (float64, as cluster_quality passes them) straight from the .npy cache,
    so the scikit-learn worker never imports torch (whose idle OpenMP threads would compete)."""
    import numpy as np

    root = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    folder = os.path.join(root, "ablate", "mnist5k")
    x = np.load(os.path.join(folder, "images.npy")).reshape(-1, 784).astype(np.float64) / 255.0
    y = np.load(os.path.join(folder, "labels.npy"))
    order = np.random.default_rng(0).permutation(len(x))  # the file is sorted by class: shuffle once
    x, y = x[order], y[order]
    reps = -(-n // len(x))
    return np.tile(x, (reps, 1))[:n], np.tile(y, reps)[:n]


def task_kmeans(args: dict) -> dict:
    """cluster_quality on N raw images with the given backend. `sklearn32`: scikit-learn on
    float32 features (its faster dtype; cluster_quality passes float64), called directly."""
    import numpy as np

    if args["backend"] == "torch":
        import torch

        torch.set_num_threads(_threads())
    from ablate.evaluate import cluster_quality, purity

    if "npz" in args:  # the features a sweep clustered (a job's latents.npz)
        saved = np.load(args["npz"])
        x, y = saved["latents"].astype(np.float64), saved["labels"]
    else:
        x, y = _raw_mnist(args["n"])
    if args["backend"] == "torch":
        cluster_quality(x[:200], y[:200], 1, 1, backend="torch")  # first-call costs (allocator, kernels)
    tic = time.perf_counter()
    if args["backend"] == "sklearn32":
        from ablate.evaluate.clustering import kmeans_labels

        x32 = x.astype(np.float32)
        scores = [purity(y, kmeans_labels(x32, 10, seed, args["n_init"])) for seed in range(args["seeds"])]
        q = {"purity_mean": float(np.mean(scores)), "purity_std": float(np.std(scores))}
    else:
        q = cluster_quality(x, y, args["seeds"], args["n_init"], backend=args["backend"])
    return {"seconds": time.perf_counter() - tic, "purity_mean": q["purity_mean"], "purity_std": q["purity_std"]}


def task_calibration(args: dict) -> dict:
    """This machine's matrix rate right now: GFLOP/s of an N x N matmul in fp32 and in bf16 (the
    median of repeats over at least half a second, after two warm-up products)."""
    import torch

    torch.set_num_threads(_threads())
    torch.manual_seed(0)
    n, out = args["n"], {"n": args["n"]}
    for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        a, b = torch.rand(n, n).to(dtype), torch.rand(n, n).to(dtype)
        for _ in range(2):
            a @ b
        rates, start = [], time.perf_counter()
        while len(rates) < 3 or time.perf_counter() - start < 0.5:
            tic = time.perf_counter()
            a @ b
            rates.append(2 * n**3 / (time.perf_counter() - tic) / 1e9)
        out[name] = statistics.median(rates)
    return out


def _train_step(model, optimizer, x, precision: str):
    """One training step of the autoencoder as ablate/engine/steps.py takes it: forward and loss
    under autocast in `precision`, backward and the optimizer outside."""
    import torch

    from ablate.engine.setup import autocast, autocast_dtype
    from ablate.tasks.autoencode import Autoencode

    task, device, dtype = Autoencode(), torch.device("cpu"), autocast_dtype(precision)

    def step():
        with autocast(device, dtype):
            raw, _ = model(x)
            loss = task.loss(task.output(raw), x)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return step


def task_stl(args: dict) -> dict:
    """Seconds per training step of the stl preset (benchmarks.common.build_unet, 1 input channel),
    Adam, a batch of uniform noise, in `precision`, NCHW or channels_last (model and input)."""
    import torch

    from ablate.engine.setup import make_optimizer
    from benchmarks.common import build_unet, macs_per_image, timed

    torch.set_num_threads(_threads())
    torch.manual_seed(0)
    size = tuple(args["size"])
    model = build_unet(tuple(args["arm"]), "stl", size)
    flop = 3 * 2 * macs_per_image(model, 1, size) * args["batch"]  # forward + two backward products
    x = torch.rand(args["batch"], 1, *size)
    if args["channels_last"]:
        model, x = model.to(memory_format=torch.channels_last), x.contiguous(memory_format=torch.channels_last)
    step = _train_step(model.train(), make_optimizer(model, "adam", 1e-3, 0.9, 0.0), x, args["precision"])
    seconds = timed(step, torch.device("cpu"), args["warmup"], args["steps"])
    return {"step_seconds": seconds, "train_flop_per_step": flop, "params": sum(p.numel() for p in model.parameters())}


def task_profile(args: dict) -> dict:
    """Where a training step's time goes: torch.profiler self-CPU time per operator family over
    `steps` steps of the default arm (one model), batch 128, in `precision`."""
    import torch
    from torch.profiler import profile

    from ablate.engine.setup import make_optimizer
    from benchmarks.common import build_unet, macs

    torch.set_num_threads(_threads())
    torch.manual_seed(0)
    model = build_unet((True, False)).train()
    optimizer = make_optimizer(model, "adam", 1e-3, 0.9, 0.0)
    step = _train_step(model, optimizer, torch.rand(128, 1, 28, 28), args["precision"])
    for _ in range(5):
        step()
    tic = time.perf_counter()
    for _ in range(args["steps"]):
        step()
    per_step = (time.perf_counter() - tic) / args["steps"]
    with profile() as prof:
        for _ in range(args["steps"]):
            step()
    flop = 3 * 2 * macs(model) * 128  # forward + two backward products, 2 FLOP per MAC, batch 128
    return {"step_seconds": per_step, "train_flop_per_step": flop, **_shares(prof, args["steps"])}


def _shares(prof, steps: int) -> dict:
    """Each operator family's share of the profiled self-CPU time, and operators called per step."""
    families, calls = {}, 0
    for event in prof.key_averages():
        family = _family(event.key)
        families[family] = families.get(family, 0.0) + event.self_cpu_time_total / 1e6 / steps
        calls += event.count
    total = sum(families.values())
    share = {k: v / total for k, v in sorted(families.items(), key=lambda kv: -kv[1])}
    return {"share": share, "ops_per_step": calls / steps}


def _family(name: str) -> str:
    """Operator family of a profiler event (self time is counted once, where it is spent)."""
    rules = [
        ("convolution_backward", "convolution backward"),
        ("convolution", "convolution forward"),
        ("_to_copy", "casts and copies (autocast's bf16 casts)"),
        ("copy_", "casts and copies (autocast's bf16 casts)"),
        ("batch_norm", "BatchNorm"),
        ("max_pool", "max pooling"),
        ("Adam", "optimizer (Adam)"),
        ("_foreach", "optimizer (Adam)"),
        ("binary_cross_entropy", "loss"),
        ("threshold", "ReLU"),
        ("relu", "ReLU"),
        ("clamp", "ReLU"),
        ("tanh", "tanh, sigmoid"),
        ("sigmoid", "tanh, sigmoid"),
        ("cat", "concatenate (skips)"),
    ]
    lowered = name.lower()
    return next((family for key, family in rules if key.lower() in lowered), "other (autograd, views, allocation, ...)")


def task_packing(args: dict) -> dict:
    from benchmarks.packing import measure

    torch_threads = _threads()
    return measure(args, torch_threads)


TASKS = {
    "calibration": task_calibration,
    "packing": task_packing,
    "kmeans": task_kmeans,
    "stl": task_stl,
    "profile": task_profile,
}

if __name__ == "__main__":
    print(json.dumps(TASKS[sys.argv[1]](json.loads(sys.argv[2]))), flush=True)
