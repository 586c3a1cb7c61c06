"""reports/benchmarks.md from the results of benchmarks/run.py: the summary of every ratio first,
then one section per measurement with the numbers it came from."""

from __future__ import annotations

from ablate.report.markdown import table
from benchmarks import packing
from benchmarks import report_sections as sections
from benchmarks.common import FLAGS
from benchmarks.report_sections import times


def _met(ok: bool) -> str:
    return "yes" if ok else "**no**"


def _ratios(r: dict) -> list[list[str]]:
    """The summary table: target, goal, measured, met."""
    q, st, k = r["quickstart"], r["stl"], r["kmeans"]
    old, new = q["old"], q["new"]
    best = min((row for row in st["rows"] if row["precision"] == "bf16"), key=lambda row: row["step_seconds"])
    base = st["rows"][0]
    fp32 = min((row for row in st["rows"] if row["precision"] == "fp32"), key=lambda row: row["step_seconds"])
    return [
        packing.ratio_row(r["ways"]),
        [
            "quick start (4 jobs × 3 replicates) wall time, new defaults ÷ old settings",
            "≤ 50%",
            f"{q['ratio']:.0%} ({new['wall']:.0f} s ÷ {old['wall']:.0f} s)",
            _met(q["ratio"] <= 0.5),
        ],
        [
            f"stl preset training step (batch {st['batch']}, {st['size'][0]}×{st['size'][1]}), best bf16 ÷ fp32",
            "≥ 3×",
            f"{times(st['speedup'])} (bf16 {_layout(best)} {1e3 * best['step_seconds']:.0f} ms, fp32 NCHW "
            f"{1e3 * base['step_seconds']:.0f} ms; vs the best fp32, {_layout(fp32)}: "
            f"{times(fp32['step_seconds'] / best['step_seconds'])})",
            _met(st["speedup"] >= 3),
        ],
        [
            f"overhead per job in the {new['n_jobs']}-job quick start, new defaults (outside training and evaluation)",
            "≤ 2 s",
            f"{new['overhead']:.2f} s (old settings: {old['overhead']:.2f} s)",
            _met(new["overhead"] <= 2),
        ],
        [
            f"k-means 10 seeds × 10 restarts vs scikit-learn, CPU, {k['n']} raw MNIST images",
            "≥ 1× at Δpurity < 0.005",
            f"{times(k['speedup'])}, Δpurity {k['purity_diff']:+.4f} (± {k['purity_diff_se']:.4f} s.e.)",
            _met(k["speedup"] >= 1 and abs(k["purity_diff"]) < 0.005),
        ],
    ]


def _layout(row: dict) -> str:
    return "channels_last" if row["channels_last"] else "NCHW"


def render(r: dict) -> str:
    m = r["machine"]
    cal = sections.calibration(r["calibration"])
    out = [
        "# Speed benchmarks",
        "",
        f"Written by `python -m benchmarks.run{' --quick' if r['quick'] else ''}` in {r['total_seconds']:.0f} s"
        + (" (**--quick: tiny sizes, not the numbers to quote**)" if r["quick"] else "")
        + ". Every number below comes from this one run.",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, flags: {', '.join(r['flags']) or 'none of ' + '/'.join(FLAGS)}, "
        f"GPU: {m['gpu']}; torch {m['torch']}, Python {m['python']}; {m['date']}.",
        "Load average (1 min) before → after each section: "
        + ", ".join(f"{name} {a:.2f}→{b:.2f}" for name, (a, b) in r["load"].items())
        + " (the benchmark keeps two threads busy itself: about 2 is its own load).",
        "",
        "## Every ratio",
        "",
        cal,
        "",
        *table(["target", "goal", "measured", "met"], _ratios(r)),
        "",
    ]
    out += packing.section(r["ways"], cal)
    out += sections.quickstart(r["quickstart"], cal)
    out += sections.stl(r["stl"], cal)
    out += sections.profile(r["profile"], cal, r["calibration"]["start"])
    out += sections.kmeans([r["kmeans"], r["kmeans_eval"]], r["kmeans_scale"], cal)
    out += _gpu(m["gpu"])
    return "\n".join(out) + "\n"


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
