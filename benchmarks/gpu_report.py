"""benchmarks_gpu.md and .json from what the GPU check (benchmarks/gpu.py) has run so far."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from ablate.report.markdown import table

TITLE = {
    "tests": "1. The CUDA tests",
    "step": "2. One training step of a preset: throughput and FLOP utilisation",
    "packing": "3. Packed replicates vs one model at a time",
    "kmeans": "4. k-means over seeds and restarts vs scikit-learn",
    "sweeps": "5. Whole sweeps",
}
METHOD = {
    "tests": "`pytest -m gpu tests/test_gpu.py` against the installed ablate, CUBLAS_WORKSPACE_CONFIG=:4096:8.",
    "step": "One training step (forward, loss, backward, fused Adam) of the preset (skips, no bottleneck, "
    "1 channel in and out), "
    "bf16 autocast on CUDA (fp32 on the CPU), channels_last, a fixed random batch resident on the device; "
    "seconds per step over the timed steps after warm-up, the device synchronised at both ends. Model FLOP = "
    "3 x 2 x the forward multiply-accumulates (convolutions, transposed convolutions, dense layers) per image; "
    "the ceiling is an n x n matmul in the same precision timed in the same process. torch.compile is not "
    "tried: its compile time does not fit the stage's cap. The top kernels come from one profiled step.",
    "packing": "The mnist preset (skips and bottleneck), batches of 128 per model: R models packed into one "
    "vectorized model (torch.func stack + vmap, summed loss, one fused Adam) against one model trained "
    "alone, in fp32 and in bf16 autocast (the two ways trainer.pack chooses between, per precision); "
    "per-model images/s = 128 x R / step seconds. Speedup: packed total images/s over one model's.",
    "kmeans": "The bundled 5,000 raw MNIST images (784 values) repeated to N, K = 10: ablate's batched torch "
    "k-means (every seed and restart at once) on the device against scikit-learn's KMeans on this machine's "
    "CPUs (all cores), the same seeds and n_init; scikit-learn runs as many seeds as its time share allows "
    "and its per-seed time is scaled to all seeds. Purity: the mean over the seeds run.",
    "sweeps": "`python -m ablate` in a fresh folder with its own sqlite store, submission to report, "
    "trainer.device set to the check's device.",
}


def junit_counts(path: Path) -> dict:
    suite = ET.parse(path).getroot()
    suite = suite if suite.tag == "testsuite" else suite[0]
    failed = [
        f"{case.get('name')}: {(case[0].get('message') or '')[:200]}"
        for case in suite.iter("testcase")
        if len(case) and case[0].tag in ("failure", "error")
    ]
    counts = {k: int(suite.get(k, 0)) for k in ("tests", "failures", "errors", "skipped")}
    return {**counts, "failed": failed}


def write(result: dict, out: Path) -> None:
    (out / "benchmarks_gpu.json").write_text(json.dumps(result, indent=1) + "\n")
    (out / "benchmarks_gpu.md").write_text("\n".join(markdown(result)) + "\n")


def markdown(r: dict) -> list[str]:
    m = r["machine"]
    lines = [
        "# GPU check",
        "",
        f"Written by `python -m benchmarks.gpu`{' in its shrunk CPU mode' if r['smoke'] else ''} (every stage "
        "in its own process under a time cap, this file rewritten as each ends). "
        f"Machine: GPU {m['gpu']}; CPU {m['cpu']}, {m['cores']} cores; torch {m['torch']}, Python {m['python']}; "
        f"{m['date']}.",
        "",
    ]
    if not r["cuda"]:
        lines += [
            "**On a GPU: not yet measured.** This run saw no CUDA device (`torch.cuda.is_available()` is "
            "False), so it ran the shrunk CPU mode that CI runs: the figures below show that every stage "
            "works, not the speed of anything. Run `benchmarks/gpu_check.sh` on a GPU node to fill them in.",
            "",
        ]
    lines += ["## The figures on the GPU", ""] + table(["figure", "goal", "measured"], headline(r)) + [""]
    for stage in r["stages"]:
        lines += _stage(stage)
    return lines


def headline(r: dict) -> list[list[str]]:
    """The issue's figures, each from its stage: on a GPU run only; else not yet measured."""
    got = {}
    for s in r["stages"] if r["cuda"] and not r["smoke"] else []:
        if s["stage"] == "tests" and "tests" in s:
            got["tests"] = f"{s['tests'] - s['failures'] - s['errors'] - s['skipped']} of {s['tests']} passed"
        elif s["stage"] == "step" and "mfu" in s:
            got["step"] = f"{s['images_per_second']:,.0f} images/s, MFU {100 * s['mfu']:.1f}%"
        elif s["stage"] == "packing" and "rows" in s:
            best = max(s["rows"], key=lambda row: row["speedup"])
            got["packing"] = f"{best['speedup']:.1f}x at R = {best['replicates']}"
        elif s["stage"] == "kmeans" and "speedup" in s:
            got[f"kmeans{s['n']}"] = f"{s['speedup']:.1f}x, purity {s['torch_purity']:.4f} vs {s['sklearn_purity']:.4f}"
        elif s["stage"] == "sweeps" and "sweeps" in s:
            for name, v in s["sweeps"].items():
                got[name] = f"{v['seconds']:.0f} s" + (" (stopped at the cap)" if v["rc"] is None else "")
    rows = [("tests", "CUDA tests", "all pass"), ("step", "stl preset training step, bf16", "MFU ≥ 30%"),
            ("packing", "mnist preset, packed vs one model at a time", "≥ 20x"),
            ("kmeans5000", "k-means vs scikit-learn, 5k images", "≥ 20x"),
            ("kmeans60000", "k-means vs scikit-learn, 60k images", "≥ 20x"),
            ("quick start", "quick-start sweep, wall", "—"),
            ("article_purity", "sweep=article_purity, wall", "—")]  # fmt: skip
    return [[label, goal, got.get(key, "not yet measured")] for key, label, goal in rows]


def _stage(s: dict) -> list[str]:
    n = s.get("args", {}).get("n")
    title = TITLE[s["stage"]] + (f", N = {n:,}" if n else "")
    head = [f"## {title}", "", METHOD[s["stage"]], ""]
    when = f"{s['seconds']:.1f} s (cap {s['cap_s']} s)"
    if "rc" in s and s["rc"] is None:  # a process-run stage killed at its cap (sweeps report each sweep's)
        return head + [f"Stopped at its time cap after {when}.", ""]
    if "error" in s:
        return head + [f"Failed after {when}:", "", "```", s["error"].strip()[-800:], "```", ""]
    return head + BODY[s["stage"]](s) + ["", f"Stage time: {when}.", ""]


def _tests(s: dict) -> list[str]:
    passed = s.get("tests", 0) - s.get("failures", 0) - s.get("errors", 0) - s.get("skipped", 0)
    rows = [[s.get("tests", 0), passed, s.get("failures", 0) + s.get("errors", 0), s.get("skipped", 0)]]
    out = table(["tests", "passed", "failed", "skipped"], rows)
    return out + ([""] + [f"- failed: {f}" for f in s["failed"]] if s.get("failed") else [])


def _step(s: dict) -> list[str]:
    rows = [
        [
            s["preset"],
            f"{s['size'][0]}×{s['size'][1]}",
            s["batch"],
            f"{s['parameters']:,}",
            s["precision"],
            f"{s['images_per_second']:,.0f}",
            f"{s['model_flops'] / 1e12:.3g}",
            f"{s['matmul_flops'] / 1e12:.3g}",
            f"{100 * s['mfu']:.1f}%",
        ]
    ]
    heads = ["preset", "input", "batch", "parameters", "precision", "images/s", "model TFLOP/s", "matmul TFLOP/s",
             "MFU"]  # fmt: skip
    ops = [[f"`{o['op']}`", f"{100 * o['share']:.0f}%"] for o in s["top_ops"]]
    return (
        table(heads, rows)
        + ["", "Where one step's time goes (top kernels, self time):", ""]
        + table(["kernel / op", "share"], ops)
    )


def _packing(s: dict) -> list[str]:
    rows = [
        [
            r.get("precision", "fp32"),
            r["replicates"],
            f"{r['alone_images_per_second']:,.0f}",
            f"{r['packed_images_per_second']:,.0f}",
            f"{r['speedup']:.1f}x",
        ]
        for r in s["rows"]
    ]
    out = table(["precision", "R", "one model alone, images/s", "R packed, images/s (all R)", "speedup"], rows)
    return out + ["", _cpu_packing()]


def _cpu_packing() -> str:
    """This project's CPU figure for the same comparison (reports/benchmarks.json), for scale."""
    try:
        results = json.loads((Path(__file__).resolve().parents[1] / "reports" / "benchmarks.json").read_text())
        if "ways" in results:  # packed fp32 ÷ one after another fp32, the same spin policy
            rows = [{**r, "speedup": r["packed_fp32"] / r["alone_fp32"]} for r in results["ways"]["rows"]]
        else:  # a result file from before the ways section
            rows = results["packing"]
        best = max(r["replicates"] for r in rows)
        speedups = [r["speedup"] for r in rows if r["replicates"] == best]
    except (OSError, ValueError, KeyError):
        return "This project's CPU figure: not found (reports/benchmarks.json)."
    return (
        f"This project's CPU figure (reports/benchmarks.md, 2 threads, one run per arm): "
        f"{min(speedups):.2f}-{max(speedups):.2f}x at R = {best} across the four arms."
    )


def _kmeans(s: dict) -> list[str]:
    rows = [
        [
            f"{s['n']:,}",
            f"{s['seeds']} x {s['n_init']}",
            f"{s['torch_seconds']:.2f}",
            f"{s['sklearn_seconds_per_seed'] * s['seeds']:.1f} ({s['sklearn_seeds_run']} seeds run)",
            f"{s['speedup']:.1f}x",
            f"{s['torch_purity']:.4f}",
            f"{s['sklearn_purity']:.4f}",
        ]
    ]
    heads = ["N", "seeds x restarts", "torch s", "scikit-learn s", "speedup", "purity torch", "purity sklearn"]
    return table(heads, rows)


def _sweeps(s: dict) -> list[str]:
    rows = [
        [name, f"`{v['command']}`", "stopped at the cap" if v["rc"] is None else v["rc"], f"{v['seconds']:.1f}"]
        for name, v in s["sweeps"].items()
    ]
    return table(["sweep", "command", "exit", "wall s"], rows)


BODY = {"tests": _tests, "step": _step, "packing": _packing, "kmeans": _kmeans, "sweeps": _sweeps}
