"""reports/benchmarks.md from the results of benchmarks/run.py: the summary of every ratio first,
then one section per measurement with the numbers it came from."""

from __future__ import annotations

from ablate.report.markdown import table
from benchmarks import packing
from benchmarks.sweep import work


def _x(ratio: float) -> str:
    return f"{ratio:.2f}×"


def _met(ok: bool) -> str:
    return "yes" if ok else "**no**"


def _amortized(first: float, steady: float, epochs: int) -> float:
    return (first + (epochs - 1) * steady) / epochs


def render(r: dict) -> str:
    m, s, t, k = r["machine"], r["single"], r["throughput"], r["kmeans"]
    base, best = s["baseline"], s["compile_warm"]
    one_job = base["steady"] / best["steady"]
    base50 = _amortized(base["first"], base["steady"], 50)
    job50 = base50 / _amortized(s["compile_cold"]["first"], best["steady"], 50)
    job50_warm = base50 / _amortized(best["first"], best["steady"], 50)
    tb = t["baseline"]
    sweep_steady = t["parallel_compile_warm"]["steady"] / tb["steady"]
    sweep50 = r["sweep50"]
    ratios = [  # the summary table: target, goal, measured, met
        ["one job, time per epoch, baseline ÷ ablate (compiled, steady epochs)", "≥ 2×",
         f"{_x(one_job)} (eager: {_x(base['steady'] / s['eager']['steady'])}; first epoch included, over a 50-epoch "
         f"job: {_x(job50)} with a cold compile cache, {_x(job50_warm)} warm)", _met(one_job >= 2)],
        ["2×2 sweep training throughput, ablate ÷ baseline (images/s, steady)", "≥ 3×",
         f"{_x(sweep_steady)} (with warm-up, {tb['epochs']} epochs per arm: "
         f"{_x(t['parallel_compile_cold']['with_warmup'] / tb['with_warmup'])} cold cache, "
         f"{_x(t['parallel_compile_warm']['with_warmup'] / tb['with_warmup'])} warm)", _met(sweep_steady >= 3)],
        [f"default sweep at {_epochs(sweep50)} epochs, wall time (hydra/launcher=parallel trainer.compile=true)",
         "≤ 180 s", f"{sweep50['wall']:.0f} s ({sweep50['wall'] - 180:+.0f} s; with the defaults, jobs one after "
         f"another, eager: {r['sweep50_plain']['wall']:.0f} s)", _met(sweep50["wall"] <= 180)],
        [f"k-means 10 seeds × 10 restarts vs scikit-learn, CPU, {k['n']} raw MNIST images", "≥ 1× at Δpurity < 0.005",
         f"{_x(k['speedup'])}, Δpurity {k['purity_diff']:+.4f} (± {k['purity_diff_se']:.4f} s.e.)",
         _met(k["speedup"] >= 1 and abs(k["purity_diff"]) < 0.005)],
        ["k-means vs scikit-learn, GPU", "≥ 20×", GPU_ELSEWHERE, "—"],
        ["training on GPU (bf16 autocast, no host sync per step)", "—", GPU_ELSEWHERE, "—"],
        ["sweep overhead per job (outside training and evaluation)", "< 2 s",
         f"{r['overhead']:.2f} s for the default 4 jobs; {r['overhead12']:.2f} s in a 12-job sweep (3 seeds)",
         f"{_met(r['overhead'] < 2)} (4 jobs), {_met(r['overhead12'] < 2)} (12)"],
    ]  # fmt: skip
    if "packing" in r:  # measured since the replicates issue; older result files have no such section
        ratios.append(packing.ratio_row(r["packing"]))
    out = [
        "# Speed benchmarks",
        "",
        f"Written by `python -m benchmarks.run{' --quick' if r['quick'] else ''}` in {r['total_seconds']:.0f} s"
        + (" (**--quick: tiny sizes, not the numbers to quote**)" if r["quick"] else "")
        + ". Every number below comes from this one run.",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, GPU: {m['gpu']}; torch {m['torch']}, Python {m['python']}; "
        f"{m['date']}.",
        "Load average (1 min) before → after each section: "
        + ", ".join(f"{name} {a:.2f}→{b:.2f}" for name, (a, b) in r["load"].items())
        + " (the benchmark keeps two threads busy itself: about 2 is its own load).",
        "",
        "## Every ratio",
        "",
        *table(["target", "goal", "measured", "met"], ratios),
        "",
    ]
    out += _single(s)
    out += _throughput(t)
    out += _profile(r["profile"])
    out += _sweep(sweep50, r["overhead_sweep"], r["overhead"], r["sweep50_plain"])
    out += _overhead(r["overhead_sweep"], r["overhead_sweep12"])
    out += _kmeans([k, r["kmeans_eval"]], r["kmeans_scale"])
    out += _scale(r["scale"])
    out += packing.section(r["packing"]) if "packing" in r else []
    out += _gpu(m["gpu"])
    return "\n".join(out) + "\n"


def _epochs(sweep: dict) -> str:
    return next(o.split("=")[1] for o in sweep["command"].split() if o.startswith("trainer.epochs="))


def _single(s: dict) -> list[str]:
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
        [label, f"{e['first']:.2f}", f"{e['steady']:.2f}", f"{e['images'] / e['steady']:.0f}",
         _x(base["steady"] / e["steady"])]
        for label, e in ((label, s[key]) for key, label in names.items())
    ]  # fmt: skip
    header = ["loop", "first epoch (s)", "steady epoch (s)", "train images/s", "vs baseline"]
    return rows + table(header, cells) + [""]


def _throughput(t: dict) -> list[str]:
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
        [label, f"{e['steady']:.0f}", _x(e["steady"] / base["steady"]), f"{e['with_warmup']:.0f}",
         _x(e["with_warmup"] / base["with_warmup"]), f"{e['span']:.1f}"]
        for label, e in ((label, t[key]) for key, label in names.items())
    ]  # fmt: skip
    header = ["setup", "images/s steady", "vs baseline", "images/s with warm-up", "vs baseline", "wall (s)"]
    return rows + table(header, cells) + [""]


def _sweep(s50: dict, s1: dict, overhead: float, plain: dict) -> list[str]:
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
        [[j["arm"], f"{j['train_seconds']:.1f}", f"{j['loop_seconds']:.1f}", f"{j['purity_mean']:.4f}", j["threads"],
          j["kmeans"]] for j in s50["jobs"]],
    )  # fmt: skip
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


def _profile(p: dict) -> list[str]:
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


def _overhead(s4: dict, s12: dict) -> list[str]:
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


def _kmeans(comparisons: list[dict], scale: list[dict]) -> list[str]:
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
        [[c["n"], f"{c['sklearn']['seconds']:.2f} (other: {c['sklearn_other']['seconds']:.2f})", c["sklearn_threads"],
          f"{c['torch']['seconds']:.2f}", _x(c["speedup"]), f"{c['sklearn']['purity_mean']:.4f}",
          f"{c['torch']['purity_mean']:.4f}", f"{c['purity_diff']:+.4f}", f"{c['purity_diff_se']:.4f}"]
         for c in comparisons],
    )  # fmt: skip
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


def _scale(sc: dict) -> list[str]:
    base = sc["data"][0]
    rows = [
        "## Scale",
        "",
        "Training, ablate.train eager, 2 threads, one epoch (train + eval pass), the bundled 5k repeated:",
        "",
    ]
    rows += table(
        ["images", "train images", "epoch (s)", "µs per train image", "× time of 5k"],
        [[d["images"], d["train_images"], f"{d['epoch']:.2f}", f"{1e6 * d['epoch'] / d['train_images']:.0f}",
          f"{d['epoch'] / base['epoch']:.1f}"] for d in sc["data"]],
    )  # fmt: skip
    rows += ["", "Model presets, one training step (channels_last, 2 threads):", ""]
    rows += table(
        ["preset", "input", "batch", "parameters", "ms per image"],
        [[p["preset"], f"{p['size'][0]}×{p['size'][1]}", p["batch"], f"{p['params']:,}",
          f"{1e3 * p['seconds_per_image']:.2f}"] for p in sc["presets"]],
    )  # fmt: skip
    return rows + [""]


GPU_ELSEWHERE = "see benchmarks_gpu.md (the GPU check)"


def _gpu(gpu: str) -> list[str]:
    seen = "this run saw no GPU" if gpu == "none" else f"this run saw {gpu}, but every figure here is the CPU's"
    return [
        "## GPU",
        "",
        f"Not measured by this benchmark ({seen}: its workers pin the CPU). The GPU figures come from "
        "`python -m benchmarks.gpu` (on an offline node: `benchmarks/gpu_check.sh`), which writes "
        "[`benchmarks_gpu.md`](benchmarks_gpu.md): the CUDA tests, a preset's training step and its FLOP "
        "utilisation, packed replicates, k-means against scikit-learn and whole sweeps, each on the GPU, or "
        "'not yet measured' where it saw none.",
        "",
    ]


if __name__ == "__main__":
    import json
    import sys
    from pathlib import Path

    source = Path(sys.argv[1] if len(sys.argv) > 1 else "reports/benchmarks.json")
    try:
        results = json.loads(source.read_text())
        text = render(results)
    except (OSError, ValueError, KeyError) as exc:  # missing, not JSON, or not a benchmarks.run result
        sys.exit(f"error: {source}: not the results of python -m benchmarks.run ({type(exc).__name__}: {exc})")
    source.with_suffix(".md").write_text(text)
