"""`python -m benchmarks.equivalence [--workdir DIR] [--pilot 3] [--cap 10] [--epochs 20]`: do
fp32 and bf16 training give the same answers? Writes reports/equivalence.md (+ .json).

Every arm of the article grid (autoencoder, bundled MNIST, mnist preset) is trained in fp32 and in
bf16 autocast on the same seeds (same initial weights, same batch orders), one replicate after
another (trainer.pack=1: only the precision differs), through the real command:
`python -m ablate -m model.skip=true,false model.bottleneck=true,false trainer.precision=fp32,bf16`.

Design, fixed before any number was seen:
- unit: the training seed; a pair is one seed's fp32 and bf16 model of one arm;
- margin: delta = MARGIN x the seed-to-seed standard deviation of that arm and metric (pooled over
  the two precisions): a precision shift below half the spread between two seeds of one arm;
- test: two one-sided t-tests on the paired differences (TOST, alpha = 0.05 each side):
  "equivalent" when the 90% interval of the mean difference lies inside (-delta, +delta) (even if
  it excludes 0: a difference inside the margin does not matter); else "different" when the 95%
  interval excludes 0; otherwise "not shown equivalent" (too few seeds
  or too large a spread to tell);
- seeds: a pilot of `--pilot` seeds estimates the spread of the paired differences; the number of
  seeds is then sized for 80% power at a true difference of 0, capped at `--cap` (the pilot's
  seeds are reused: the sweep skips what it already trained). Sizing from the variance alone
  leaves the error rate of the test practically unchanged.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
from pathlib import Path

from benchmarks.common import ROOT, machine

MARGIN = 0.5  # delta in units of the seed-to-seed SD (see the module docstring)
ALPHA, POWER = 0.05, 0.80
DESIGN = (
    "Every arm of the article grid trained in fp32 and in bf16 autocast on the same seeds (same initial "
    "weights and batch orders, one replicate after another), the autoencoder on the bundled 5k MNIST. "
    f"Margin: ±{MARGIN} × the arm's seed-to-seed SD (pooled over the two precisions). Outcome per row: "
    "*equivalent* (the 90% interval of the mean paired difference bf16 − fp32 lies inside the margin: "
    "two one-sided tests at 5%), else *different* (the 95% interval excludes 0), else *not shown "
    "equivalent*. Seeds: sized from the pilot's spread of the paired differences for 80% power at a "
    "true difference of 0, capped; `needed` is that size from all the seeds run."
)
METRICS = {"purity_mean": "per-arm purity (k-means, 10 seeds)", "final_eval_loss": "final eval loss"}
FACTORS = ("model.skip", "model.bottleneck")


def sweep(workdir: Path, replicates: int, epochs: int) -> None:
    """The grid x {fp32, bf16} with `replicates` seeds: the pack way fixed, one after another."""
    args = [
        "-m",
        "model.skip=true,false",
        "model.bottleneck=true,false",
        "trainer.precision=fp32,bf16",
        f"trainer.epochs={epochs}",
        f"replicates={replicates}",
        "trainer.pack=1",
        "claims=none",
        "hydra/launcher=parallel",
        "trainer.progress=false",
    ]
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"}
    workdir.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "ablate", *args], cwd=workdir, env=env, check=True)


def pairs(workdir: Path):
    """The last sweep's runs as a table: arm, precision, seed and the metrics."""
    from ablate.report.collect import collect
    from ablate.tracking.store import Tracker

    tracker = Tracker(f"sqlite:///{workdir / 'mlflow.db'}")
    experiment = tracker.experiment_id("ablate")
    parent = tracker.sweeps(experiment)[0]["run_id"]  # the newest sweep
    runs = collect(tracker, parent).runs
    return runs[runs["status"].isin(["FINISHED", "SKIPPED"])]


def compare(fp32: list[float], bf16: list[float]) -> dict:
    """TOST on the paired differences bf16 - fp32 (see the module docstring)."""
    from scipy import stats

    n = len(fp32)
    diffs = [b - a for a, b in zip(fp32, bf16, strict=True)]
    mean = sum(diffs) / n
    sd_d = math.sqrt(sum((d - mean) ** 2 for d in diffs) / (n - 1))
    sd_seed = math.sqrt((_var(fp32) + _var(bf16)) / 2)
    delta = MARGIN * sd_seed
    se = sd_d / math.sqrt(n)
    t90, t95 = stats.t.ppf(1 - ALPHA, n - 1), stats.t.ppf(1 - ALPHA / 2, n - 1)
    ci90, ci95 = (mean - t90 * se, mean + t90 * se), (mean - t95 * se, mean + t95 * se)
    if -delta < ci90[0] and ci90[1] < delta:  # a difference inside the margin is no difference that matters
        outcome = "equivalent"
    elif ci95[0] > 0 or ci95[1] < 0:
        outcome = "different"
    else:
        outcome = "not shown equivalent"
    z = stats.norm.ppf(1 - ALPHA) + stats.norm.ppf(1 - (1 - POWER) / 2)
    needed = math.ceil((z * sd_d / delta) ** 2) + 1 if delta > 0 else math.inf
    return {
        "n": n,
        "mean_diff": mean,
        "sd_diff": sd_d,
        "sd_seed": sd_seed,
        "delta": delta,
        "ci90": ci90,
        "ci95": ci95,
        "outcome": outcome,
        "seeds_needed": needed,
        "fp32_mean": sum(fp32) / n,
        "bf16_mean": sum(bf16) / n,
    }


def _var(xs: list[float]) -> float:
    m = sum(xs) / len(xs)
    return sum((x - m) ** 2 for x in xs) / (len(xs) - 1)


def analyse(runs) -> list[dict]:
    rows = []
    for arm, group in runs.groupby(list(FACTORS), sort=True):
        by = {p: g.set_index("seed") for p, g in group.groupby("trainer.precision")}
        seeds = sorted(set(by["fp32"].index) & set(by["bf16"].index), key=int)
        for metric in METRICS:
            fp32 = [float(by["fp32"].loc[s, metric]) for s in seeds]
            bf16 = [float(by["bf16"].loc[s, metric]) for s in seeds]
            name = " ".join(f"{k.split('.')[1]}={str(v).lower()}" for k, v in zip(FACTORS, arm, strict=True))
            rows.append({"arm": name, "metric": metric, **compare(fp32, bf16)})
    return rows


def overall(rows: list[dict]) -> str:
    outcomes = {row["outcome"] for row in rows}
    if "different" in outcomes:
        return "different"
    return "equivalent" if outcomes == {"equivalent"} else "not shown equivalent"


def render(result: dict) -> str:
    from ablate.report.markdown import table

    cells = [
        [
            r["arm"],
            METRICS[r["metric"]],
            r["n"],
            f"{r['fp32_mean']:.4g}",
            f"{r['bf16_mean']:.4g}",
            f"{r['mean_diff']:+.3g}",
            f"[{r['ci90'][0]:+.3g}, {r['ci90'][1]:+.3g}]",
            f"±{r['delta']:.3g}",
            f"{r['sd_seed']:.3g}",
            r["seeds_needed"],
            r["outcome"],
        ]
        for r in result["rows"]
    ]
    m = result["machine"]
    return "\n".join(
        [
            "# fp32 and bf16: equivalent answers?",
            "",
            f"Written by `python -m benchmarks.equivalence` (pilot {result['pilot']} seeds, cap {result['cap']}, "
            f"{result['epochs']} epochs). Machine: {m['cpu']}, {m['cores']} cores, flags: {result['flags']}; "
            f"torch {m['torch']}; {m['date']}.",
            "",
            f"**Overall: {result['overall']}.** {result['why']}",
            "",
            DESIGN,
            "",
            *table(
                [
                    "arm",
                    "metric",
                    "seeds",
                    "fp32 mean",
                    "bf16 mean",
                    "bf16 − fp32",
                    "90% interval",
                    "margin",
                    "seed SD",
                    "needed",
                    "outcome",
                ],
                cells,
            ),
            "",
            "What this does not show: equivalence on other tasks, datasets, model sizes or epochs; on another "
            "processor bf16 rounds the same way but may run other kernels. A row *not shown equivalent* is "
            "no evidence of a difference.",
            "",
        ]
    )


def cpu_flags() -> str:
    import torch

    caps = torch._C._cpu._get_cpu_capability()
    return ", ".join(k for k in ("amx_bf16", "amx_tile", "avx512_bf16", "avx512_f", "avx2") if caps.get(k))


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/ablate-equivalence"))
    parser.add_argument("--pilot", type=int, default=3)
    parser.add_argument("--cap", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--out", type=Path, default=ROOT / "reports" / "equivalence.md")
    parser.add_argument("--render", type=Path, help="re-render a result JSON (no training)")
    opts = parser.parse_args(argv)
    if opts.render:
        opts.out.write_text(render(json.loads(opts.render.read_text())))
        return opts.out
    sweep(opts.workdir, opts.pilot, opts.epochs)
    pilot = analyse(pairs(opts.workdir))
    n = min(opts.cap, max(opts.pilot, *(int(min(r["seeds_needed"], 10**6)) for r in pilot)))
    if n > opts.pilot:
        sweep(opts.workdir, n, opts.epochs)
    rows = analyse(pairs(opts.workdir))
    needed = max(int(min(r["seeds_needed"], 10**6)) for r in pilot)
    why = f"The pilot sized {needed} seeds" + (f", capped at {opts.cap}." if needed > opts.cap else ".")
    result = {
        "machine": machine(),
        "flags": cpu_flags(),
        "pilot": opts.pilot,
        "cap": opts.cap,
        "epochs": opts.epochs,
        "seeds": n,
        "rows": rows,
        "overall": overall(rows),
        "why": why,
    }
    opts.out.write_text(render(result))
    opts.out.with_suffix(".json").write_text(json.dumps(result, indent=1, default=str))
    print(f"wrote {opts.out}: {result['overall']}", flush=True)
    return opts.out


if __name__ == "__main__":
    main()
