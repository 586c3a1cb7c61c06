"""reports/benchmarks.md from the results of benchmarks/run.py: the summary of every ratio first,
then one section per measurement with the numbers it came from."""

from __future__ import annotations

from ablate.report.markdown import table
from benchmarks import packing
from benchmarks import report_sections as sections
from benchmarks.report_sections import times


def _met(ok: bool) -> str:
    return "yes" if ok else "**no**"


def _amortized(first: float, steady: float, epochs: int) -> float:
    return (first + (epochs - 1) * steady) / epochs


def _ratios(r: dict) -> list[list[str]]:
    """The summary table: target, goal, measured, met."""
    s, t, k = r["single"], r["throughput"], r["kmeans"]
    base, best = s["baseline"], s["compile_warm"]
    one_job = base["steady"] / best["steady"]
    base50 = _amortized(base["first"], base["steady"], 50)
    job50 = base50 / _amortized(s["compile_cold"]["first"], best["steady"], 50)
    job50_warm = base50 / _amortized(best["first"], best["steady"], 50)
    tb = t["baseline"]
    sweep_steady = t["parallel_compile_warm"]["steady"] / tb["steady"]
    sweep50 = r["sweep50"]
    ratios = [
        [
            "one job, time per epoch, baseline ÷ ablate (compiled, steady epochs)",
            "≥ 2×",
            f"{times(one_job)} (eager: {times(base['steady'] / s['eager']['steady'])}; first epoch included, "
            f"over a 50-epoch job: {times(job50)} with a cold compile cache, {times(job50_warm)} warm)",
            _met(one_job >= 2),
        ],
        [
            "2×2 sweep training throughput, ablate ÷ baseline (images/s, steady)",
            "≥ 3×",
            f"{times(sweep_steady)} (with warm-up, {tb['epochs']} epochs per arm: "
            f"{times(t['parallel_compile_cold']['with_warmup'] / tb['with_warmup'])} cold cache, "
            f"{times(t['parallel_compile_warm']['with_warmup'] / tb['with_warmup'])} warm)",
            _met(sweep_steady >= 3),
        ],
        [
            f"default sweep at {_epochs(sweep50)} epochs, wall time (hydra/launcher=parallel trainer.compile=true)",
            "≤ 180 s",
            f"{sweep50['wall']:.0f} s ({sweep50['wall'] - 180:+.0f} s; with the defaults, jobs one after "
            f"another, eager: {r['sweep50_plain']['wall']:.0f} s)",
            _met(sweep50["wall"] <= 180),
        ],
        [
            f"k-means 10 seeds × 10 restarts vs scikit-learn, CPU, {k['n']} raw MNIST images",
            "≥ 1× at Δpurity < 0.005",
            f"{times(k['speedup'])}, Δpurity {k['purity_diff']:+.4f} (± {k['purity_diff_se']:.4f} s.e.)",
            _met(k["speedup"] >= 1 and abs(k["purity_diff"]) < 0.005),
        ],
        ["k-means vs scikit-learn, GPU", "≥ 20×", GPU_ELSEWHERE, "—"],
        ["training on GPU (bf16 autocast, no host sync per step)", "—", GPU_ELSEWHERE, "—"],
        [
            "sweep overhead per job (outside training and evaluation)",
            "< 2 s",
            f"{r['overhead']:.2f} s for the default 4 jobs; {r['overhead12']:.2f} s in a 12-job sweep (3 seeds)",
            f"{_met(r['overhead'] < 2)} (4 jobs), {_met(r['overhead12'] < 2)} (12)",
        ],
    ]
    if "packing" in r:  # measured since the replicates issue; older result files have no such section
        ratios.append(packing.ratio_row(r["packing"]))
    return ratios


def render(r: dict) -> str:
    m, s, t, k = r["machine"], r["single"], r["throughput"], r["kmeans"]
    sweep50 = r["sweep50"]
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
        *table(["target", "goal", "measured", "met"], _ratios(r)),
        "",
    ]
    out += sections.single(s)
    out += sections.throughput(t)
    out += sections.profile(r["profile"])
    out += sections.sweep(sweep50, r["overhead_sweep"], r["overhead"], r["sweep50_plain"])
    out += sections.overhead(r["overhead_sweep"], r["overhead_sweep12"])
    out += sections.kmeans([k, r["kmeans_eval"]], r["kmeans_scale"])
    out += sections.scale(r["scale"])
    out += packing.section(r["packing"]) if "packing" in r else []
    out += _gpu(m["gpu"])
    return "\n".join(out) + "\n"


def _epochs(sweep: dict) -> str:
    return next(o.split("=")[1] for o in sweep["command"].split() if o.startswith("trainer.epochs="))


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
