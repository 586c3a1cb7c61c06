"""Training measurements beside the ways of benchmarks/packing.py: the machine's matrix rate (the
calibration printed beside every absolute time), one step of the stl preset in each precision and
layout, and where a step of the default arm goes (torch.profiler). Each in a fresh worker."""

from __future__ import annotations

from benchmarks.common import OLD_SPIN, worker

SKIP_ARM = [True, False]  # the default model (model.skip=true, model.bottleneck=false)


def calibration(n: int = 2048, threads: int = 2) -> dict:
    """GFLOP/s of an n x n matmul in fp32 and in bf16 on `threads` threads."""
    return {**worker("calibration", {"n": n}, threads), "threads": threads}


def stl(size: list[int], warmup: int, steps: int, batch: int = 16, threads: int = 2) -> dict:
    """One training step of the stl preset in fp32 and bf16, NCHW and channels_last; the speed-up
    of the best bf16 over fp32 NCHW."""
    rows = []
    for precision in ("fp32", "bf16"):
        for channels_last in (False, True):
            args = {"arm": SKIP_ARM, "size": size, "batch": batch, "warmup": warmup, "steps": steps}
            measured = worker("stl", {**args, "precision": precision, "channels_last": channels_last}, threads)
            rows.append({"precision": precision, "channels_last": channels_last, **measured})
    base = rows[0]["step_seconds"]
    best = min((row for row in rows if row["precision"] == "bf16"), key=lambda row: row["step_seconds"])
    return {
        "rows": rows,
        "size": size,
        "batch": batch,
        "warmup": warmup,
        "steps": steps,
        "threads": threads,
        "speedup": base / best["step_seconds"],
    }


def profile(steps: int, new_precision: str, threads: int = 2) -> dict:
    """One training step of the default arm taken apart: in the new default's precision, in fp32
    (both with ablate's GOMP_SPINCOUNT=10000), and in fp32 with the old OMP_WAIT_POLICY=PASSIVE."""
    runs = {
        "new": (new_precision, None),
        "fp32": ("fp32", None),
        "fp32_passive": ("fp32", OLD_SPIN),
    }
    out = {
        name: {"precision": precision, **worker("profile", {"precision": precision, "steps": steps}, threads, env)}
        for name, (precision, env) in runs.items()
    }
    return {"runs": out, "steps": steps, "threads": threads}
