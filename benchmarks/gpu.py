"""The GPU check: every GPU figure this project quotes, from one command, in minutes.

    python -m benchmarks.gpu [--smoke] [--out reports]

Five stages, each in its own process under its own time cap, each written to
`<out>/benchmarks_gpu.json` and `.md` the moment it ends, so a check stopped halfway (the lent
machine's time ran out) still leaves the stages it finished:

1. `pytest -m gpu`: the CUDA tests (training in bf16, fused optimizer, no host sync per step,
   resume equal to uninterrupted under deterministic algorithms, k-means, packed replicates);
2. one training step of the stl preset (96x96, batch 256, bf16, channels_last): images/s and
   model FLOP utilisation against the matmul rate measured in the same run, and the top kernels;
3. the mnist preset at R = 1, 8, 64, 256 packed replicates vs one model at a time;
4. k-means, 10 seeds x 10 restarts, on 5k and 60k raw images vs scikit-learn on the CPUs;
5. wall time of the quick-start sweep and of `sweep=article_purity`.

Without a CUDA device it runs shrunk (`--smoke` sizes, on the CPU), which is what CI does so the
script cannot rot; the report then says the GPU figures are not yet measured.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import gpu_report
from benchmarks.common import machine

# (stage, time cap in seconds on a GPU, arguments at full size, arguments shrunk for CI)
PLAN = [
    ("tests", 60, {}, {}),
    ("step", 40, {"preset": "stl", "size": [96, 96], "batch": 256, "warmup": 5, "steps": 20, "matmul_n": 8192},
     {"preset": "mnist", "size": [28, 28], "batch": 8, "warmup": 1, "steps": 2, "matmul_n": 256}),
    ("packing", 60, {"replicates": [1, 8, 64, 256], "steps": 10, "precisions": ["fp32", "bf16"]},
     {"replicates": [1, 2], "steps": 2, "precisions": ["fp32", "bf16"]}),
    ("kmeans", 20, {"n": 5000, "seeds": 10, "n_init": 10, "sklearn_budget_s": 8},
     {"n": 500, "seeds": 2, "n_init": 2, "sklearn_budget_s": 1}),
    ("kmeans", 35, {"n": 60000, "seeds": 10, "n_init": 10, "sklearn_budget_s": 12},
     {"n": 1000, "seeds": 2, "n_init": 2, "sklearn_budget_s": 1}),
    ("sweeps", 75, {"article": True}, {"article": False}),
]  # fmt: skip
SMOKE_CAP = 120  # per stage on the CPU: the shrunk sizes take seconds, a first import of torch more
SWEEP = ["model.skip=true,false", "model.bottleneck=true,false"]
TINY = ["data.limit=300", "trainer.epochs=1", "replicates=1", "trainer.progress=false"]


def _env(path: str = "") -> dict[str, str]:
    # cuBLAS is deterministic only with a fixed workspace: set before any process starts CUDA
    env = {**os.environ, "CUBLAS_WORKSPACE_CONFIG": ":4096:8", "MLFLOW_DISABLE_TELEMETRY": "true"}
    return {**env, "PYTHONPATH": path}


def _run(cmd: list[str], cap: float, cwd: Path, path: str = "") -> tuple[int | None, str, str]:
    """rc (None: stopped at its cap, with every process it started), stdout, stderr. Every process
    runs outside the checkout, so it imports the installed ablate (a wheel on a GPU node)."""
    proc = subprocess.Popen(
        cmd, cwd=cwd, env=_env(path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
    )
    try:
        out, err = proc.communicate(timeout=cap)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # a sweep's parallel workers too: nothing keeps the GPU
        out, err = proc.communicate()
        return None, out.decode(errors="replace"), err.decode(errors="replace")
    return proc.returncode, out.decode(errors="replace"), err.decode(errors="replace")


def run_tests(repo: Path, cap: float, work: Path) -> dict:
    """pytest -m gpu in the checkout, against the installed ablate; its counts and failures."""
    junit = work / "gpu-tests.xml"
    pytest = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "pythonpath="]
    cmd = [*pytest, "test_gpu.py", "-m", "gpu", f"--junitxml={junit}"]
    rc, out, err = _run(cmd, cap, repo / "tests")
    result = gpu_report.junit_counts(junit) if junit.is_file() else {}
    return {"rc": rc, **result, "tail": (out + err)[-1500:]}


def run_stage(name: str, args: dict, cap: float, work: Path) -> dict:
    cmd = [sys.executable, "-m", "benchmarks.gpu_stages", name, json.dumps(args)]
    rc, out, err = _run(cmd, cap, work, str(work.parent / "path"))  # benchmarks/ alone on the path
    if rc != 0:
        return {"rc": rc, "error": (err or out)[-3000:]}
    try:
        return {"rc": rc, **json.loads(out.strip().splitlines()[-1])}
    except (IndexError, ValueError):
        return {"rc": rc, "error": f"no result line: {(err or out)[-1500:]}"}


def run_sweeps(args: dict, cap: float, work: Path, device: str, smoke: bool) -> dict:
    """Wall time of whole sweeps, each in a fresh folder with its own store."""
    extra = [f"trainer.device={device}", *(TINY if smoke else [])]
    sweeps = {"quick start": ["-m", *SWEEP, *extra]}
    if args["article"]:
        # its four arms side by side on the one GPU (each job packs its 10 replicates)
        parallel = ["hydra/launcher=parallel", "hydra.launcher.n_jobs=4"]
        sweeps["article_purity"] = ["-m", "sweep=article_purity", *parallel, *extra]
    result, left = {}, cap
    for name, argv in sweeps.items():
        folder = work / name.replace(" ", "_")
        folder.mkdir()
        tic = time.perf_counter()
        rc, out, err = _run([sys.executable, "-m", "ablate", *argv], max(left, 1), folder)
        seconds = time.perf_counter() - tic
        left -= seconds
        lines = out.strip().splitlines()
        result[name] = {
            "rc": rc,
            "seconds": seconds,
            "command": "python -m ablate " + " ".join(argv),
            "last": lines[-1] if lines else err.strip()[-300:],
        }
    return {"sweeps": result}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="shrunk sizes (forced without a CUDA device)")
    parser.add_argument("--out", type=Path, default=Path("reports"), help="folder for benchmarks_gpu.md/.json")
    opts = parser.parse_args(argv)
    import torch

    cuda = torch.cuda.is_available()
    smoke = opts.smoke or not cuda
    repo = Path(__file__).resolve().parents[1]
    result = {"machine": machine(), "cuda": cuda, "smoke": smoke, "device": "cuda" if cuda else "cpu", "stages": []}
    try:
        opts.out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        parser.error(f"--out {opts.out}: cannot create it ({exc.strerror}; allowed: a writable folder)")
    gpu_report.write(result, opts.out)  # what ran so far, rewritten after every stage
    with tempfile.TemporaryDirectory(prefix="ablate-gpu-check-") as tmp:
        (Path(tmp) / "path").mkdir()
        (Path(tmp) / "path" / "benchmarks").symlink_to(repo / "benchmarks")
        for i, (name, cap, full, shrunk) in enumerate(PLAN):
            cap, args = (SMOKE_CAP, dict(shrunk)) if smoke else (cap, dict(full))
            args["device"] = result["device"]
            work = Path(tmp) / f"{i}-{name}"
            work.mkdir()
            tic = time.perf_counter()
            if name == "tests":
                out = run_tests(repo, cap, work)
            elif name == "sweeps":
                out = run_sweeps(args, cap, work, result["device"], smoke)
            else:
                out = run_stage(name, args, cap, work)
            result["stages"].append(
                {"stage": name, "args": args, "cap_s": cap, "seconds": time.perf_counter() - tic, **out}
            )
            gpu_report.write(result, opts.out)
            print(f"{name}: {time.perf_counter() - tic:.1f} s", flush=True)
    print(f"report: {opts.out / 'benchmarks_gpu.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
