"""Training measurements: one job's epoch, the 2x2 sweep's throughput, and how both scale.

Images/s always count training images only (the per-epoch eval pass is done by both sides and
included in their time). "Steady" leaves out each arm's first epoch (allocator warm-up, and for
torch.compile the compilation); "with warm-up" divides everything trained by the whole wall time.
"""

from __future__ import annotations

import statistics
import tempfile

from benchmarks.common import ARMS, finish_worker, start_worker, worker

SKIP_ARM = [True, False]  # the default model (model.skip=true, model.bottleneck=false)
FAST = {"loop": "project", "channels_last": False, "compile": True}


def _epochs(times: list[float]) -> dict[str, float]:
    return {"first": times[0], "steady": statistics.median(times[1:]), "n": len(times)}


def single_job(epochs: int) -> dict:
    """Seconds per epoch of one job on 2 threads: the baseline loop, ablate.train eager (NCHW and
    channels_last) and compiled (cold cache: a fresh TORCHINDUCTOR_CACHE_DIR, then warm)."""
    out, cache = {}, tempfile.mkdtemp(prefix="ablate-bench-inductor-")
    runs = {
        "baseline": {"loop": "baseline"},
        "eager": {"loop": "project", "channels_last": False, "compile": False},
        "channels_last": {"loop": "project", "channels_last": True, "compile": False},
        "compile_cold": FAST,
        "compile_warm": FAST,
    }
    for name, spec in runs.items():
        r = worker(
            "epochs", {"arm": SKIP_ARM, "epochs": epochs, **spec}, threads=2, env={"TORCHINDUCTOR_CACHE_DIR": cache}
        )
        out[name] = {**_epochs(r["epochs"]), "images": r["images"]}
    return out


def _throughput(results: list[dict], measured_epochs: int) -> dict[str, float]:
    """Images/s over all arms of a set of concurrent workers (each ran its arms in sequence)."""
    images = results[0]["images"]
    span = max(r["end"] for r in results) - min(r["start"] for r in results)
    total = sum(len(arm) * images for r in results for arm in r["per_arm"])
    steady = 0.0
    for r in results:  # concurrent workers: their steady rates add up
        steady_time = sum(sum(arm[1:]) for arm in r["per_arm"])
        steady += sum((len(arm) - 1) * images for arm in r["per_arm"]) / steady_time
    return {"with_warmup": total / span, "steady": steady, "span": span, "epochs": measured_epochs + 1}


def _arms(spec: dict, epochs: int, workers: int, threads: int, cache: str) -> dict[str, float]:
    procs = [
        start_worker(
            "arms",
            {"arms": [list(a) for a in ARMS[i::workers]], "epochs": epochs, **spec},
            threads=threads,
            env={"TORCHINDUCTOR_CACHE_DIR": cache},
        )
        for i in range(workers)
    ]
    return _throughput([finish_worker(p) for p in procs], epochs - 1)


def sweep_throughput(epochs: int, cold: str) -> dict:
    """The four arms: the baseline loop one arm after another on 2 threads, against two worker
    processes with 1 thread each (what hydra/launcher=parallel does) running ablate.train eager,
    then compiled with a cold compile cache (`cold`: an empty folder) and again with it warm."""
    eager = {"loop": "project", "channels_last": False, "compile": False}
    return {
        "baseline": _arms({"loop": "baseline"}, epochs, workers=1, threads=2, cache=cold),
        "parallel_eager": _arms(eager, epochs, workers=2, threads=1, cache=cold),
        "parallel_compile_cold": _arms(FAST, epochs, workers=2, threads=1, cache=cold),
        "parallel_compile_warm": _arms(FAST, epochs, workers=2, threads=1, cache=cold),
    }


def profile(steps: int, cache: str) -> dict:
    """One training step taken apart (torch.profiler): eager on 2 threads (the baseline's model and
    threads), eager on 1 thread, and compiled on 1 thread (what a parallel sweep's worker runs)."""
    runs = {
        "eager_2threads": ({"compile": False}, 2),
        "eager_1thread": ({"compile": False}, 1),
        "compiled_1thread": ({"compile": True}, 1),
    }
    env = {"TORCHINDUCTOR_CACHE_DIR": cache}
    return {name: worker("profile", {**spec, "steps": steps}, threads=t, env=env) for name, (spec, t) in runs.items()}


def scale(base_epoch: float, base_images: int, repeats: list[int]) -> dict:
    """Seconds per epoch (eager, 2 threads) as the data grows by repeating the bundled 5k, and
    seconds per training image of each model preset."""
    rows = [{"images": 5000, "train_images": base_images, "epoch": base_epoch}]
    for repeat in repeats:
        r = worker(
            "epochs",
            {
                "arm": SKIP_ARM,
                "epochs": 1,
                "repeat": repeat,
                "loop": "project",
                "channels_last": False,
                "compile": False,
            },
            threads=2,
        )
        rows.append({"images": 5000 * repeat, "train_images": r["images"], "epoch": r["epochs"][0]})
    presets = [
        {"preset": "mnist", "size": [28, 28], "batch": 128, "steps": 5},
        {"preset": "stl", "size": [32, 32], "batch": 8, "steps": 2},  # 31M parameters: a few steps
    ]
    preset_rows = [{**p, **worker("preset", p, threads=2)} for p in presets]
    return {"data": rows, "presets": preset_rows}
