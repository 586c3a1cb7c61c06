"""`python -m benchmarks.run [--quick] [--out reports/benchmarks.md]`: every ratio of the speed
issue, measured in one run on this machine, written as markdown (benchmarks/report.py).

Sections, each measured in fresh worker processes: the machine's matmul rate (at the start and
again at the end), the ways to train R replicates against the old default, the README's quick
start with the old settings and with the new defaults, the stl preset's training step per precision
and layout, a profiled training step, and k-means against scikit-learn.

About 15 minutes on a 2-core CPU; --quick shrinks every measurement to check the machinery in a
few. Run it on an otherwise idle machine: the load average before and after each section is part
of the report.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from benchmarks import kmeans, packing, report, sweep, training
from benchmarks.common import ROOT, flags, load_average, machine, mnist_split


def _new_precision() -> str:
    """What trainer.precision=auto trains in on this CPU (ablate's rule, not a timing)."""
    import torch

    from ablate.engine.setup import resolve_precision

    return resolve_precision("auto", torch.device("cpu"))


def measure(quick: bool) -> dict:
    results: dict = {"machine": machine(), "flags": flags(), "quick": quick, "load": {}}
    tic = time.perf_counter()

    def section(name, fn, *args):
        before = load_average()
        print(f"[{time.perf_counter() - tic:6.0f}s] {name} (load {before:.2f})", flush=True)
        value = fn(*args)
        results["load"][name] = (before, load_average())
        return value

    new_precision = _new_precision()
    results["calibration"] = {"start": section("calibration (start)", training.calibration)}
    replicates, warmup, steps = ([1, 3], 1, 2) if quick else ([1, 3, 10], 3, None)
    results["ways"] = section("ways", packing.ways, replicates, warmup, steps, new_precision)
    results["quickstart"] = section("quickstart", sweep.quickstart, quick)
    results["stl"] = section("stl", training.stl, *(([32, 32], 1, 1) if quick else ([96, 96], 2, 3)))
    results["profile"] = section("profile", training.profile, 5 if quick else 20, new_precision)
    results["kmeans"] = section("kmeans", kmeans.compare, 1000 if quick else 5000)
    results["kmeans_eval"] = section("kmeans_eval", kmeans.compare, 1000)
    results["kmeans_scale"] = section("kmeans_scale", kmeans.scale, [1000] if quick else [4000, 12000])
    results["calibration"]["end"] = section("calibration (end)", training.calibration)
    results["total_seconds"] = time.perf_counter() - tic
    return results


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: check the machinery, not the numbers")
    parser.add_argument("--out", type=Path, default=ROOT / "reports" / "benchmarks.md")
    opts = parser.parse_args(argv)
    mnist_split()  # fills the .npy cache before anything is timed
    results = measure(opts.quick)
    opts.out.parent.mkdir(parents=True, exist_ok=True)
    # the raw numbers first: `python -m benchmarks.report FILE.json` re-renders without re-measuring
    opts.out.with_suffix(".json").write_text(json.dumps(results, indent=1))
    opts.out.write_text(report.render(results))
    print(f"wrote {opts.out} in {results['total_seconds']:.0f}s", flush=True)
    return opts.out


if __name__ == "__main__":
    main()
