"""`python -m benchmarks.run [--quick] [--out reports/benchmarks.md]`: every ratio of the speed
issue, measured in one run on this machine, written as markdown (benchmarks/report.py).

About 17 minutes on a 2-core CPU; --quick shrinks every measurement (and the 50-epoch sweeps to 3
epochs) to check the machinery in about 8. Run it on an otherwise idle machine: the load average
before and after each section is part of the report.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from benchmarks import kmeans, packing, report, sweep, training
from benchmarks.common import ROOT, load_average, machine, mnist_split


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: check the machinery, not the numbers")
    parser.add_argument("--out", type=Path, default=ROOT / "reports" / "benchmarks.md")
    opts = parser.parse_args(argv)
    q = opts.quick
    mnist_split()  # fills the .npy cache before anything is timed
    results: dict = {"machine": machine(), "quick": q, "load": {}}
    tic = time.perf_counter()
    compile_cache = tempfile.mkdtemp(prefix="ablate-bench-inductor-")  # cold, then warm for the sweep

    def section(name, fn, *args):
        before = load_average()
        print(f"[{time.perf_counter() - tic:6.0f}s] {name} (load {before:.2f})", flush=True)
        results[name] = fn(*args)
        results["load"][name] = (before, load_average())

    section("single", training.single_job, 3 if q else 4)
    section("throughput", training.sweep_throughput, 2 if q else 3, compile_cache)
    section("profile", training.profile, 5 if q else 20, compile_cache)
    fast = ["hydra/launcher=parallel", "trainer.compile=true"]
    section("sweep50", sweep.run_sweep, [f"trainer.epochs={3 if q else 50}", *fast], compile_cache)
    section("sweep50_plain", sweep.run_sweep, [f"trainer.epochs={3 if q else 50}"], compile_cache)  # as typed
    one_epoch = ["trainer.epochs=1", "eval.latent=false"]
    section("overhead_sweep", sweep.run_sweep, one_epoch, compile_cache)
    section("overhead_sweep12", sweep.run_sweep, [*one_epoch, "seed=0,1,2"], compile_cache)
    section("kmeans", kmeans.compare, 1000 if q else 5000)
    section("kmeans_eval", kmeans.compare, 1000)
    section("kmeans_scale", kmeans.scale, [1000] if q else [4000, 12000])
    single = results["single"]["eager"]
    section("scale", training.scale, single["steady"], single["images"], [4] if q else [4, 12])
    section("packing", packing.compare, [1, 3] if q else [1, 3, 10], 2 if q else 10)
    results["overhead"] = sweep.overhead(results["overhead_sweep"])
    results["overhead12"] = sweep.overhead(results["overhead_sweep12"])
    results["total_seconds"] = time.perf_counter() - tic
    opts.out.parent.mkdir(parents=True, exist_ok=True)
    opts.out.write_text(report.render(results))
    # the raw numbers beside it: `python -m benchmarks.report FILE.json` re-renders without re-measuring
    opts.out.with_suffix(".json").write_text(json.dumps(results, indent=1))
    print(f"wrote {opts.out} in {results['total_seconds']:.0f}s", flush=True)
    return opts.out


if __name__ == "__main__":
    main()
