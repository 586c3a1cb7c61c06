"""`python -m benchmarks.contention [--reps 3] [--out reports/contention.md]`: two sweeps side by
side on one machine, against each alone, with OpenMP's threads spinning while they wait (libgomp's
default), spinning briefly then sleeping (ablate's default, GOMP_SPINCOUNT=10000) and sleeping
(OMP_WAIT_POLICY=PASSIVE).

Each sweep is a real `python -m ablate -m` (2 arms x 1 replicate, the mnist preset, 2k images,
3 epochs) in a launch directory of its own (its own store: two copies of one sweep would share
their cells, see ablate/util/locks.py). The modes and the solo/pair measurements are interleaved, and
the table gives medians over the repetitions: wall seconds of the whole command, and each pair
member's time over the solo time of the same mode and over the solo time of the spinning mode.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from benchmarks.common import ROOT, machine

SWEEP = ["-m", "model.skip=true,false", "data.limit=2000", "trainer.epochs=3", "replicates=1",
         "trainer.progress=false", "eval.kmeans_seeds=2", "eval.n_init=2"]  # fmt: skip
MODES = {  # the environment each mode starts with (ablate leaves a user's own setting alone)
    "spinning (libgomp's default)": {"GOMP_SPINCOUNT": "300000"},
    "short spin, then sleep (ablate's default)": {},
    "sleeping (OMP_WAIT_POLICY=PASSIVE)": {"OMP_WAIT_POLICY": "PASSIVE"},
}


def sweep(env: dict[str, str], count: int) -> list[float]:
    """Wall seconds of `count` identical sweeps started together, each in its own directory."""
    clean = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    with tempfile.TemporaryDirectory() as tmp:
        dirs = [Path(tmp) / str(i) for i in range(count)]
        procs = []
        for d in dirs:
            d.mkdir()
            cmd = [sys.executable, "-m", "ablate", *SWEEP]
            start = time.perf_counter()
            proc = subprocess.Popen(
                cmd, cwd=d, env={**clean, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
            )
            procs.append((start, proc))
        seconds = [0.0] * count

        def wait(i: int, start: float, proc: subprocess.Popen) -> None:  # each its own end time
            _, err = proc.communicate()
            seconds[i] = time.perf_counter() - start if proc.returncode == 0 else math.nan
            if proc.returncode != 0:
                print(f"a sweep failed: {err[-500:]}", file=sys.stderr)

        threads = [threading.Thread(target=wait, args=(i, *p)) for i, p in enumerate(procs)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if any(math.isnan(s) for s in seconds):
            raise SystemExit("a sweep failed")
    return seconds


def measure(reps: int) -> dict[str, dict[str, list[float]]]:
    out = {mode: {"solo": [], "pair": []} for mode in MODES}
    for rep in range(reps):
        for mode, env in MODES.items():  # interleaved: a drift in the machine hits every mode alike
            out[mode]["solo"] += sweep(env, 1)
            out[mode]["pair"] += sweep(env, 2)
            print(
                f"rep {rep + 1}/{reps} {mode}: solo {out[mode]['solo'][-1]:.1f} s, "
                f"pair {out[mode]['pair'][-2]:.1f} / {out[mode]['pair'][-1]:.1f} s",
                flush=True,
            )
    return out


def table(results: dict[str, dict[str, list[float]]], reps: int) -> str:
    base = statistics.median(results[next(iter(MODES))]["solo"])
    m = machine()
    lines = [
        "# Two sweeps side by side (CPU contention)",
        "",
        f"Measured {m['date']} on {m['cpu']} ({m['cores']} cores), torch {m['torch']}; "
        f"`python -m benchmarks.contention --reps {reps}`, "
        f"one run. Each sweep: `python -m ablate {' '.join(SWEEP)}` in its own directory. Medians over {reps} "
        "interleaved repetitions of: one sweep alone, then two started together.",
        "",
        "| OpenMP waiting threads | alone (s) | side by side (s, each) | side by side / alone | "
        "side by side / alone, spinning |",
        "|---|---|---|---|---|",
    ]
    for mode in MODES:
        solo, pair = statistics.median(results[mode]["solo"]), statistics.median(results[mode]["pair"])
        lines.append(f"| {mode} | {solo:.1f} | {pair:.1f} | {pair / solo:.2f}x | {pair / base:.2f}x |")
    lines += ["", "Fair sharing of the cores would be 2x; the goal is at most 2.5x, and no slower alone."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--out", default=str(ROOT / "reports" / "contention.md"))
    args = parser.parse_args()
    results = measure(args.reps)
    Path(args.out).write_text(table(results, args.reps))
    Path(args.out).with_suffix(".json").write_text(json.dumps(results, indent=1) + "\n")
    print(Path(args.out).read_text())


if __name__ == "__main__":
    main()
