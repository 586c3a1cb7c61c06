"""One measurement in a fresh process: `python -m benchmarks.worker TASK 'JSON args'` prints a JSON
line. The parent (benchmarks/run.py) sets the thread count through the environment before Python
starts, so torch, OpenMP and BLAS all use exactly that many threads."""

from __future__ import annotations

import json
import os
import statistics
import sys
import time


def _threads() -> int:
    return int(os.environ.get("ABLATE_BENCH_THREADS", "2"))


def baseline_loop(model, train_images, eval_images, epochs: int) -> list[float]:
    """The reference: a plain eager PyTorch loop as a tutorial writes it (NCHW, fp32, DataLoader
    over a TensorDataset, shuffled batches of 128, `.item()` per step), with the same per-epoch
    eval-loss pass over the eval split that a job makes. Returns seconds per epoch."""
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    from ablate.tasks.autoencode import Autoencode, image_loss

    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    train_loader = DataLoader(TensorDataset(train_images), batch_size=128, shuffle=True)
    eval_loader = DataLoader(TensorDataset(eval_images), batch_size=512)
    times = []
    for _ in range(epochs):
        tic = time.perf_counter()
        model.train()
        total = 0.0
        for (x,) in train_loader:
            raw, _ = model(x)
            output = Autoencode().output(raw)  # the task owns the output activation
            loss = image_loss(output, x)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(x)
        model.eval()
        with torch.no_grad():
            for (x,) in eval_loader:
                raw, _ = model(x)
                output = Autoencode().output(raw)  # the task owns the output activation
                total += image_loss(output, x).item()
        times.append(time.perf_counter() - tic)
    return times


def project_loop(model, train_set, eval_set, epochs: int, channels_last: bool, compile_model: bool) -> list[float]:
    """ablate.engine.train's loop for one model (train_model: the plain step), exactly as a job
    calls it (resident data, index batches, the speed switches). Returns History.epoch_seconds:
    train + eval-loss pass per epoch."""
    import torch

    from ablate.engine.setup import make_optimizer
    from ablate.engine.train import TrainSpec, train_model
    from ablate.tasks.autoencode import Autoencode

    optimizer = make_optimizer(model, "adam", 1e-3, 0.9, 0.0)
    spec = TrainSpec(
        epochs=epochs,
        batch_size=128,
        device=torch.device("cpu"),
        channels_last=channels_last,
        compile_model=compile_model,
        progress=False,
    )
    history = train_model(model, optimizer, Autoencode(), train_set, eval_set, spec, seed=0)
    return history.epoch_seconds


def task_epochs(args: dict) -> dict:
    """Per-epoch seconds of one arm: `loop` baseline or project."""
    import torch

    from benchmarks.common import build_unet, mnist_split

    torch.set_num_threads(_threads())
    train_set, eval_set = mnist_split(args.get("repeat", 1))
    torch.manual_seed(0)
    model = build_unet(tuple(args["arm"]))
    if args["loop"] == "baseline":
        times = baseline_loop(model, train_set.images, eval_set.images, args["epochs"])
    else:
        times = project_loop(model, train_set, eval_set, args["epochs"], args["channels_last"], args["compile"])
    return {"epochs": times, "images": len(train_set), "eval_images": len(eval_set)}


def task_arms(args: dict) -> dict:
    """Several arms one after another in this process (one worker of a parallel sweep): wall-clock
    span from the first step to the last, after imports and data loading."""
    import torch

    from benchmarks.common import build_unet, mnist_split

    torch.set_num_threads(_threads())
    train_set, eval_set = mnist_split()
    start, per_arm = time.time(), []
    for arm in args["arms"]:
        torch.manual_seed(0)
        model = build_unet(tuple(arm))
        if args["loop"] == "baseline":
            per_arm.append(baseline_loop(model, train_set.images, eval_set.images, args["epochs"]))
        else:
            per_arm.append(
                project_loop(model, train_set, eval_set, args["epochs"], args["channels_last"], args["compile"])
            )
    return {"start": start, "end": time.time(), "per_arm": per_arm, "images": len(train_set)}


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


def task_preset(args: dict) -> dict:
    """Seconds per training image of a model preset (a few steps at a small batch for `stl`)."""
    import torch

    from ablate.tasks.autoencode import Autoencode, image_loss
    from benchmarks.common import build_unet

    torch.set_num_threads(_threads())
    size = tuple(args["size"])
    model = build_unet((True, False), args["preset"], size).to(memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.rand(args["batch"], 1, *size).contiguous(memory_format=torch.channels_last)
    times = []
    for _ in range(args["steps"] + 1):
        tic = time.perf_counter()
        raw, _ = model(x)
        output = Autoencode().output(raw)  # the task owns the output activation
        loss = image_loss(output, x)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        times.append(time.perf_counter() - tic)
    per_image = statistics.median(times[1:]) / args["batch"]
    return {"seconds_per_image": per_image, "params": sum(p.numel() for p in model.parameters())}


def task_profile(args: dict) -> dict:
    """Where a training step's time goes: torch.profiler self-CPU time per operator family over
    `steps` steps of the default arm, batch 128, eager or compiled."""
    import torch
    from torch.profiler import profile

    from ablate.tasks.autoencode import Autoencode, image_loss
    from benchmarks.common import build_unet, macs

    torch.set_num_threads(_threads())
    torch.manual_seed(0)
    model = build_unet((True, False))
    net = torch.compile(model, dynamic=False) if args["compile"] else model
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.rand(128, 1, 28, 28)

    def step():
        raw, _ = net(x)
        output = Autoencode().output(raw)  # the task owns the output activation
        loss = image_loss(output, x)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    for _ in range(5):
        step()
    tic = time.perf_counter()
    for _ in range(args["steps"]):
        step()
    per_step = (time.perf_counter() - tic) / args["steps"]
    with profile() as prof:
        for _ in range(args["steps"]):
            step()
    families = {}
    for event in prof.key_averages():
        family = _family(event.key)
        families[family] = families.get(family, 0.0) + event.self_cpu_time_total / 1e6 / args["steps"]
    total = sum(families.values())
    share = {k: v / total for k, v in sorted(families.items(), key=lambda kv: -kv[1])}
    a = torch.rand(2048, 2048)
    a @ a
    tic = time.perf_counter()
    for _ in range(5):
        a @ a
    sgemm = 5 * 2 * 2048**3 / (time.perf_counter() - tic)  # this machine's large-matmul rate, for scale
    flop = 3 * 2 * macs(model) * 128  # forward + two backward products, 2 FLOP per MAC, batch 128
    return {"step_seconds": per_step, "share": share, "train_flop_per_step": flop, "sgemm_flops": sgemm}


def _family(name: str) -> str:
    """Operator family of a profiler event (self time is counted once, where it is spent)."""
    rules = [
        ("convolution_backward", "convolution backward"),
        ("convolution", "convolution forward"),
        ("CompiledFxGraph", "generated kernels (BatchNorm, ReLU, pooling, ... fused)"),
        ("batch_norm", "BatchNorm"),
        ("max_pool", "max pooling"),
        ("Adam", "optimizer (Adam)"),
        ("binary_cross_entropy", "loss"),
        ("threshold", "ReLU"),
        ("relu", "ReLU"),
        ("clamp", "ReLU"),
        ("tanh", "tanh, sigmoid"),
        ("sigmoid", "tanh, sigmoid"),
        ("cat", "concatenate (skips)"),
    ]
    lowered = name.lower()
    return next((family for key, family in rules if key.lower() in lowered), "other (autograd, loss, copies, ...)")


def task_packing(args: dict) -> dict:
    from benchmarks.packing import measure

    torch_threads = _threads()
    return measure(args, torch_threads)


TASKS = {
    "packing": task_packing,
    "epochs": task_epochs,
    "arms": task_arms,
    "kmeans": task_kmeans,
    "preset": task_preset,
    "profile": task_profile,
}

if __name__ == "__main__":
    print(json.dumps(TASKS[sys.argv[1]](json.loads(sys.argv[2]))), flush=True)
