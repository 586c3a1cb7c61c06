"""The sections of reports/benchmarks.md after its summary, one per measurement, each with the
numbers it came from (benchmarks/report.py puts them together)."""

from __future__ import annotations

from ablate.report.markdown import table
from benchmarks.sweep import work


def times(ratio: float) -> str:
    return f"{ratio:.2f}×"


def single(s: dict) -> list[str]:
    base = s["baseline"]
    names = {
        "baseline": "baseline: plain eager loop, NCHW fp32, DataLoader(TensorDataset), 2 threads",
        "eager": "ablate.train, eager (resident data, index batches)",
        "channels_last": "ablate.train, eager, trainer.channels_last=true",
        "compile_cold": "ablate.train, trainer.compile=true, cold compile cache",
        "compile_warm": "ablate.train, trainer.compile=true, warm compile cache",
    }
    rows = [
        "## One job: mnist preset, bundled MNIST (4,000 train / 1,000 eval images), batch 128, 2 threads",
        "",
        "An epoch = the training pass + the eval-loss pass, for both sides. First epoch shown apart "
        "(it holds the compilation); steady = median of the others.",
        "",
    ]
    cells = [
        [
            label,
            f"{e['first']:.2f}",
            f"{e['steady']:.2f}",
            f"{e['images'] / e['steady']:.0f}",
            times(base["steady"] / e["steady"]),
        ]
        for label, e in ((label, s[key]) for key, label in names.items())
    ]
    header = ["loop", "first epoch (s)", "steady epoch (s)", "train images/s", "vs baseline"]
    return rows + table(header, cells) + [""]


def throughput(t: dict) -> list[str]:
    base = t["baseline"]
    names = {
        "baseline": "baseline loop, arms one after another, 2 threads",
        "parallel_eager": "ablate.train eager, 2 processes × 1 thread (hydra/launcher=parallel)",
        "parallel_compile_cold": "… + trainer.compile=true, cold compile cache",
        "parallel_compile_warm": "… + trainer.compile=true, warm compile cache",
    }
    rows = [
        f"## 2×2 sweep training throughput ({base['epochs']} epochs per arm, all four arms)",
        "",
    ]
    cells = [
        [
            label,
            f"{e['steady']:.0f}",
            times(e["steady"] / base["steady"]),
            f"{e['with_warmup']:.0f}",
            times(e["with_warmup"] / base["with_warmup"]),
            f"{e['span']:.1f}",
        ]
        for label, e in ((label, t[key]) for key, label in names.items())
    ]
    header = ["setup", "images/s steady", "vs baseline", "images/s with warm-up", "vs baseline", "wall (s)"]
    return rows + table(header, cells) + [""]


def sweep(s50: dict, s1: dict, overhead: float, plain: dict) -> list[str]:
    rows = [
        "## The default sweep, end to end",
        "",
        f"`{s50['command']}`: **{s50['wall']:.0f} s** wall (target 180 s), "
        f"{sum(j['train_seconds'] for j in s50['jobs']):.0f} s of training summed over the jobs. "
        f"As typed, without the two speed switches (`{plain['command']}`: the basic launcher runs the "
        f"jobs one after another on 2 threads, eager): {plain['wall']:.0f} s wall, "
        f"{sum(j['train_seconds'] for j in plain['jobs']):.0f} s of training.",
        "",
        "train_seconds: the job's whole training stage; loop_seconds: its training and eval-loss passes alone "
        "(the rest is per-epoch MLflow logging, progress snapshots and checkpoints).",
        "",
    ]
    rows += table(
        ["arm", "train_seconds", "loop_seconds", "purity_mean", "threads", "k-means"],
        [
            [
                j["arm"],
                f"{j['train_seconds']:.1f}",
                f"{j['loop_seconds']:.1f}",
                f"{j['purity_mean']:.4f}",
                j["threads"],
                j["kmeans"],
            ]
            for j in s50["jobs"]
        ],
    )
    train = work(s1)
    rows += [
        "",
        f"Overhead, from `{s1['command']}` (defaults, jobs one after another in one process, no k-means): "
        f"wall {s1['wall']:.1f} s − training and evaluation (`loop_seconds` + `eval_seconds`) {train:.1f} s "
        f"= {overhead * len(s1['jobs']):.1f} s for "
        f"{len(s1['jobs'])} jobs: **{overhead:.2f} s per job** (Python start and imports, config checks, data, "
        "MLflow, per-epoch logging, snapshots and checkpoints, artifacts, figures, the report).",
        "",
    ]
    return rows


def profile(p: dict) -> list[str]:
    names = {
        "eager_2threads": "eager, 2 threads (as the baseline loop runs it)",
        "eager_1thread": "eager, 1 thread",
        "compiled_1thread": "trainer.compile=true, 1 thread (a parallel sweep's worker)",
    }
    base = p["eager_2threads"]
    rows = [
        "## Where a training step's time goes",
        "",
        "One step of the default arm (skip, no bottleneck), batch 128, torch.profiler self time by operator "
        f"family. The step is {base['train_flop_per_step'] / 1e9:.2f} GFLOP (forward + backward, 2 FLOP per "
        f"multiply-accumulate); this machine multiplies large fp32 matrices at {base['sgemm_flops'] / 1e9:.0f} "
        "GFLOP/s on 2 threads (a 2048² matmul, for scale). With 4 to 16 channels a convolution has too "
        "little work per pixel to run near that rate, and BatchNorm, ReLU and pooling only move memory: "
        "this is the distance to the training targets above.",
        "",
    ]
    cells = []
    for key, label in names.items():
        e = p[key]
        top = ", ".join(f"{family} {share:.0%}" for family, share in list(e["share"].items())[:5])
        rate = e["train_flop_per_step"] / e["step_seconds"] / 1e9
        cells.append([label, f"{1e3 * e['step_seconds']:.1f}", f"{rate:.1f}", top])
    return rows + table(["step", "ms", "GFLOP/s", "share of the step"], cells) + [""]


def overhead(s4: dict, s12: dict) -> list[str]:
    """Fixed (per sweep) and per-job overhead from the 4-job and 12-job sweeps."""
    o4, o12 = s4["wall"] - work(s4), s12["wall"] - work(s12)
    per_job = (o12 - o4) / (len(s12["jobs"]) - len(s4["jobs"]))
    fixed = o4 - len(s4["jobs"]) * per_job
    return [
        f"The same with `seed=0,1,2` (12 jobs): wall {s12['wall']:.1f} s − training "
        f"{work(s12):.1f} s = {o12:.1f} s. Between the two sweeps: "
        f"**{fixed:.1f} s once per sweep** (Python start and imports of torch, MLflow, Hydra and matplotlib; "
        "a new MLflow database; torch's optimizer importing torch._dynamo on first use) and "
        f"**{per_job:.2f} s per job** (Hydra composing the job, its MLflow run and per-epoch logging, "
        "snapshots, checkpoints, the latents, model and loss-curve artifacts).",
        "",
    ]


def kmeans(comparisons: list[dict], scale: list[dict]) -> list[str]:
    rows = [
        "## Latent evaluation: k-means, 10 seeds × 10 restarts, raw MNIST pixels (784 dims, K = 10)",
        "",
        "scikit-learn: `KMeans(n_init=10, random_state=seed)` per seed on float64 (as `cluster_quality` "
        "passes them), in a process without torch, at 1 and 2 threads, the faster kept. torch: "
        "`eval.kmeans=torch`, all 100 restarts batched, float32, 2 threads, drawing the same random "
        "numbers as scikit-learn per seed (so the clusterings agree up to float32 rounding). s.e.: the "
        "standard error of a purity difference between two independent sets of 10 seeds, for scale.",
        "",
    ]
    header = [
        "images", "scikit-learn (s)", "threads", "torch (s)", "speedup", "purity sklearn", "purity torch", "Δ", "s.e.",
    ]  # fmt: skip
    rows += table(
        header,
        [
            [
                c["n"],
                f"{c['sklearn']['seconds']:.2f} (other: {c['sklearn_other']['seconds']:.2f})",
                c["sklearn_threads"],
                f"{c['torch']['seconds']:.2f}",
                times(c["speedup"]),
                f"{c['sklearn']['purity_mean']:.4f}",
                f"{c['torch']['purity_mean']:.4f}",
                f"{c['purity_diff']:+.4f}",
                f"{c['purity_diff_se']:.4f}",
            ]
            for c in comparisons
        ],
    )
    rows += [
        "",
        "How the torch k-means grows with N (2 threads; 1,000 / 4,000 / 12,000 = the eval split of the bundled 5k "
        "and of 20k / 60k images, 5,000 = all of the bundled 5k):",
        "",
    ]
    rows += table(
        ["images clustered", "seconds", "purity"],
        [[c["n"], f"{c['seconds']:.2f}", f"{c['purity_mean']:.4f}"] for c in comparisons_torch(comparisons, scale)],
    )
    return rows + [""]


def comparisons_torch(comparisons: list[dict], scale: list[dict]) -> list[dict]:
    seen = [{"n": c["n"], **c["torch"]} for c in comparisons] + scale
    return sorted({c["n"]: c for c in seen}.values(), key=lambda c: c["n"])


def scale(sc: dict) -> list[str]:
    base = sc["data"][0]
    rows = [
        "## Scale",
        "",
        "Training, ablate.train eager, 2 threads, one epoch (train + eval pass), the bundled 5k repeated:",
        "",
    ]
    rows += table(
        ["images", "train images", "epoch (s)", "µs per train image", "× time of 5k"],
        [
            [
                d["images"],
                d["train_images"],
                f"{d['epoch']:.2f}",
                f"{1e6 * d['epoch'] / d['train_images']:.0f}",
                f"{d['epoch'] / base['epoch']:.1f}",
            ]
            for d in sc["data"]
        ],
    )
    rows += ["", "Model presets, one training step (channels_last, 2 threads):", ""]
    rows += table(
        ["preset", "input", "batch", "parameters", "ms per image"],
        [
            [
                p["preset"],
                f"{p['size'][0]}×{p['size'][1]}",
                p["batch"],
                f"{p['params']:,}",
                f"{1e3 * p['seconds_per_image']:.2f}",
            ]
            for p in sc["presets"]
        ],
    )
    return rows + [""]
