"""Replicates packed into one vectorized model vs trained one after another: per-model training
throughput for each of the four arms at R = 1, 3, 10, each measurement in a fresh worker."""

from __future__ import annotations

from benchmarks.common import ARMS, arm_name, timed, worker


def measure(args: dict, threads: int) -> dict:
    """R replicates of one arm (each initialised by its own seed) trained for `steps` steps of 128
    images each: `alone`, one model after another (the plain step), or `packed`, one vectorized
    model (ablate.engine.vectorized.Stack). Seconds per step of all R, after warm-up steps."""
    import torch

    from ablate.engine.setup import make_optimizer
    from ablate.engine.vectorized import Stack
    from ablate.tasks.autoencode import Autoencode
    from benchmarks.common import build_unet

    torch.set_num_threads(threads)
    replicates, task, device = args["replicates"], Autoencode(), torch.device(args.get("device", "cpu"))
    models = []
    for seed in range(replicates):
        torch.manual_seed(seed)
        models.append(build_unet(tuple(args["arm"])).to(device))
    x = torch.rand(replicates, 128, 1, 28, 28, device=device)
    if args["mode"] == "alone":
        optimizers = [make_optimizer(m, "adam", 1e-3, 0.9, 0.0) for m in models]

        def step():
            for r, (model, optimizer) in enumerate(zip(models, optimizers, strict=True)):
                raw, _ = model(x[r])
                loss = task.loss(task.output(raw), x[r])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
    else:
        stack = Stack(models)
        optimizer = make_optimizer(list(stack.params.values()), "adam", 1e-3, 0.9, 0.0)

        def step():
            raw, _ = stack(x)
            losses = torch.stack([task.loss(task.output(raw[r]), x[r]) for r in range(replicates)])
            optimizer.zero_grad()
            losses.sum().backward()
            optimizer.step()

    return {"step_seconds": timed(step, device, args["warmup"], args["steps"]), "images": 128 * replicates}


def compare(replicates: list[int], steps: int, threads: int = 2) -> list[dict]:
    rows = []
    for arm in ARMS:
        for r in replicates:
            args = {"arm": list(arm), "replicates": r, "steps": steps, "warmup": 3}
            alone = worker("packing", {**args, "mode": "alone"}, threads)
            packed = worker("packing", {**args, "mode": "packed"}, threads)
            rows.append(
                {
                    "arm": arm_name(arm),
                    "replicates": r,
                    "alone_images_per_second": alone["images"] / alone["step_seconds"],
                    "packed_images_per_second": packed["images"] / packed["step_seconds"],
                    "speedup": alone["step_seconds"] / packed["step_seconds"],
                }
            )
    return rows


def ratio_row(rows: list[dict]) -> list[str]:
    """The summary line: packed ÷ one at a time at the largest R, every arm (goal ≥ 2×)."""
    top = max(row["replicates"] for row in rows)
    at_top = [row for row in rows if row["replicates"] == top]
    worst = min(row["speedup"] for row in at_top)
    shown = ", ".join(f"{row['arm']} {row['speedup']:.2f}×" for row in at_top)
    met = "yes" if worst >= 2 else "**no**"
    return [
        f"replicates packed vs one at a time, per-model training throughput, R = {top}",
        "≥ 2× every arm",
        shown,
        met,
    ]


def section(rows: list[dict]) -> list[str]:
    from ablate.report.markdown import table

    cells = [
        [
            row["arm"],
            row["replicates"],
            f"{row['alone_images_per_second']:.0f}",
            f"{row['packed_images_per_second']:.0f}",
            f"{row['speedup']:.2f}×",
        ]
        for row in rows
    ]
    return [
        "## Replicates: packed vs one at a time",
        "",
        "R replicates of one arm (each initialised by its own seed), batches of 128 images each, Adam: one after "
        "another with the plain step, or packed into one vectorized model (`ablate/engine/vectorized.py`: "
        "`torch.func.stack_module_state` + `vmap(functional_call)`, the replicates' losses summed). Images per "
        "second over all R models, steady steps after 3 warm-up steps, each measurement in a fresh worker "
        "with 2 threads. The speed-up is the per-model training throughput ratio.",
        "",
        *table(["arm", "R", "one at a time (images/s)", "packed (images/s)", "speed-up"], cells),
        "",
    ]
