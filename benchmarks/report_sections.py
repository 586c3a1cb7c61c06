"""The sections of reports/benchmarks.md after its summary, one per measurement, each with the
numbers it came from and the machine's calibration beside its absolute times (benchmarks/report.py
puts them together; the ways of training replicates are drawn by benchmarks/packing.py)."""

from __future__ import annotations

from ablate import SPIN_COUNT
from ablate.report.markdown import table
from benchmarks.sweep import work


def times(ratio: float) -> str:
    return f"{ratio:.2f}×"


def calibration(c: dict) -> str:
    """The line under every table header: the matrix rate at the start and at the end of the run."""
    start, end = c["start"], c.get("end", c["start"])
    return (
        f"Machine calibration ({start['n']}² matmul, {start['threads']} threads): fp32 {start['fp32']:.0f} GFLOP/s, "
        f"bf16 {start['bf16']:.0f} GFLOP/s (start) / fp32 {end['fp32']:.0f} GFLOP/s, bf16 {end['bf16']:.0f} "
        "GFLOP/s (end)."
    )


def _trained(s: dict) -> str:
    """The precision the runs trained in (trainer.resolved_precision, else trainer.precision) and trainer.pack."""
    found = sorted({f"{j['resolved_precision'] or j['precision']}, pack={j['pack']}" for j in s["jobs"]})
    return "; ".join(found)


def steps(n: int, what: str = "step") -> str:
    return f"{n} {what}{'' if n == 1 else 's'}"


def quickstart(q: dict, cal: str) -> list[str]:
    old, new = q["old"], q["new"]
    rows = [
        "## The quick start, end to end",
        "",
        cal,
        "",
        "The README's quick start run as a real subprocess in a fresh scratch folder (its own MLflow store), "
        "timed from outside from start to exit, with `trainer.progress=false tracking.experiment=bench "
        "hydra/job_logging=disabled` added: 4 jobs (one per arm), 3 replicates each (the default), the data, "
        "training, final evaluation (k-means included), artifacts and the report. Old settings: "
        "`trainer.precision=fp32 trainer.pack=16` with `OMP_WAIT_POLICY=PASSIVE` (vectorized packs, fp32, "
        "sleeping OpenMP threads: the defaults before this change); new: the defaults, nothing added. "
        "Overhead per job = (wall − Σ over every run of `loop_seconds` + `eval_seconds`) ÷ 4 jobs; a packed "
        "run's `loop_seconds` is its share of the pack's time, so the sum is the training time either way.",
        "",
    ]
    cells = [
        [
            name,
            f"`{s['command']}`",
            f"{s['wall']:.1f}",
            len(s["jobs"]),
            f"{work(s):.1f}",
            f"{s['overhead']:.2f}",
            _trained(s),
        ]
        for name, s in (("old settings", old), ("new defaults", new))
    ]
    header = ["setting", "command", "wall (s)", "runs", "Σ loop + eval (s)", "overhead per job (s)", "trained"]
    rows += table(header, cells)
    rows += ["", f"New ÷ old wall: **{q['ratio']:.0%}**. Per arm (its 3 runs summed):", ""]
    arms = sorted({j["arm"] for j in new["jobs"]})

    def summed(s: dict, arm: str, key: str) -> str:
        return f"{sum(j[key] for j in s['jobs'] if j['arm'] == arm):.1f}"

    cells = [[arm, *(summed(s, arm, k) for s in (old, new) for k in ("loop_seconds", "eval_seconds"))] for arm in arms]
    header = ["arm", "old: loop_seconds", "old: eval_seconds", "new: loop_seconds", "new: eval_seconds"]
    return rows + table(header, cells) + [""]


def stl(s: dict, cal: str) -> list[str]:
    base = s["rows"][0]
    size = f"{s['size'][0]}×{s['size'][1]}"
    rows = [
        "## The stl preset: one training step per precision and layout",
        "",
        cal,
        "",
        f"One training step of the stl preset's U-Net (`benchmarks.common.build_unet`: skip=true bottleneck=false, "
        f"channels 64-128-256-512, middle 1024, 1 input channel, {base['params']:,} parameters) on a batch of "
        f"{s['batch']} uniform-noise images of {size}, autoencoder loss, Adam: forward and loss under "
        "`torch.autocast` in bf16 or plain fp32, NCHW or channels_last (model and input "
        f"`.to(memory_format=torch.channels_last)`). {steps(s['warmup'], 'warm-up step')}, then the mean of "
        f"{steps(s['steps'])}, "
        f"each row in a fresh worker with {s['threads']} threads. GFLOP/s: forward + backward "
        "(3 × 2 FLOP per multiply-accumulate) per second.",
        "",
    ]
    cells = [
        [
            r["precision"],
            "channels_last" if r["channels_last"] else "NCHW",
            f"{1e3 * r['step_seconds']:.0f}",
            f"{r['train_flop_per_step'] / r['step_seconds'] / 1e9:.0f}",
            times(base["step_seconds"] / r["step_seconds"]),
        ]
        for r in s["rows"]
    ]
    return rows + table(["precision", "layout", "ms per step", "GFLOP/s", "vs fp32 NCHW"], cells) + [""]


def profile(p: dict, cal: str, cal_start: dict) -> list[str]:
    names = {
        "new": f"new default: {p['runs']['new']['precision']}, GOMP_SPINCOUNT={SPIN_COUNT}",
        "fp32": f"fp32, GOMP_SPINCOUNT={SPIN_COUNT}",
        "fp32_passive": "fp32, OMP_WAIT_POLICY=PASSIVE (the old spin policy)",
    }
    new = p["runs"]["new"]
    peak = cal_start[new["precision"]]
    rate = new["train_flop_per_step"] / new["step_seconds"] / 1e9
    rows = [
        "## Where a training step's time goes",
        "",
        cal,
        "",
        "One model of the default arm (skip, no bottleneck), batch 128 of uniform noise, Adam, "
        f"{p['threads']} threads, in a fresh worker each: 5 warm-up steps, {p['steps']} steps timed, then "
        f"{p['steps']} more under torch.profiler, whose self-CPU time is summed by operator family. The step is "
        f"{new['train_flop_per_step'] / 1e9:.2f} GFLOP (forward + backward, 2 FLOP per multiply-accumulate). "
        f"The new default runs it at {rate:.0f} GFLOP/s, {rate / peak:.1%} of the {new['precision']} matmul "
        "rate at the start of the run (the calibration above); the share of each operator family, the "
        "operators dispatched per step and the fp32 rows below say where the rest of the step goes.",
        "",
    ]
    cells = []
    for key, label in names.items():
        e = p["runs"][key]
        top = ", ".join(f"{family} {share:.0%}" for family, share in list(e["share"].items())[:5])
        rate = e["train_flop_per_step"] / e["step_seconds"] / 1e9
        cells.append([label, f"{1e3 * e['step_seconds']:.1f}", f"{rate:.1f}", f"{e['ops_per_step']:.0f}", top])
    return rows + table(["step", "ms", "GFLOP/s", "operators per step", "share of the step"], cells) + [""]


def kmeans(comparisons: list[dict], scale: list[dict], cal: str) -> list[str]:
    rows = [
        "## Latent evaluation: k-means, 10 seeds × 10 restarts, raw MNIST pixels (784 dims, K = 10)",
        "",
        cal,
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
