"""The ways to train R replicates of one arm: one after another (the plain step per model) or
packed into one vectorized model, each in fp32 and in bf16 autocast, against the old CPU default
(packed, fp32, OMP_WAIT_POLICY=PASSIVE): per-model training throughput for each of the four arms
at R = 1, 3, 10, each measurement in a fresh worker."""

from __future__ import annotations

from ablate import SPIN_COUNT
from benchmarks.common import ARMS, OLD_SPIN, arm_name, timed, worker

# (key, mode, precision, env): the five ways of the table, the old default first
WAYS = [
    ("old_default", "packed", "fp32", OLD_SPIN),
    ("packed_fp32", "packed", "fp32", None),
    ("packed_bf16", "packed", "bf16", None),
    ("alone_fp32", "alone", "fp32", None),
    ("alone_bf16", "alone", "bf16", None),
]


def _batches(args: dict, device):
    """(R, 128, 1, 28, 28): R different batches of the bundled MNIST's training split (`data`
    mnist), or uniform noise (the default, as the GPU check runs it)."""
    import torch

    replicates = args["replicates"]
    if args.get("data") == "mnist":
        from benchmarks.common import mnist_split

        train_set, _ = mnist_split()
        return train_set.images[: 128 * replicates].reshape(replicates, 128, 1, 28, 28).to(device)
    return torch.rand(replicates, 128, 1, 28, 28, device=device)


def measure(args: dict, threads: int) -> dict:
    """R replicates of one arm (each initialised by its own seed) trained for `steps` steps of 128
    images each: `alone`, one model after another (the plain step), or `packed`, one vectorized
    model (ablate.engine.vectorized.Stack). `precision` fp32 or bf16: forward and loss under
    autocast, as ablate/engine/steps.py runs them. Seconds per step of all R, after warm-up steps."""
    import torch

    from ablate.engine.setup import autocast, autocast_dtype, make_optimizer
    from ablate.engine.vectorized import Stack
    from ablate.tasks.autoencode import Autoencode
    from benchmarks.common import build_unet

    torch.set_num_threads(threads)
    replicates, task, device = args["replicates"], Autoencode(), torch.device(args.get("device", "cpu"))
    dtype = autocast_dtype(args.get("precision", "fp32"))
    models = []
    for seed in range(replicates):
        torch.manual_seed(seed)
        models.append(build_unet(tuple(args["arm"])).to(device))
    x = _batches(args, device)
    if args["mode"] == "alone":
        optimizers = [make_optimizer(m, "adam", 1e-3, 0.9, 0.0) for m in models]

        def step():
            for r, (model, optimizer) in enumerate(zip(models, optimizers, strict=True)):
                with autocast(device, dtype):
                    raw, _ = model(x[r])
                    loss = task.loss(task.output(raw), x[r])
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
    else:
        stack = Stack(models)
        optimizer = make_optimizer(list(stack.params.values()), "adam", 1e-3, 0.9, 0.0)

        def step():
            with autocast(device, dtype):
                raw, _ = stack(x)
                losses = torch.stack([task.loss(task.output(raw[r]), x[r]) for r in range(replicates)])
            optimizer.zero_grad(set_to_none=True)
            losses.sum().backward()
            optimizer.step()

    return {"step_seconds": timed(step, device, args["warmup"], args["steps"]), "images": 128 * replicates}


def ways(replicates: list[int], warmup: int, steps: int | None, new_precision: str, threads: int = 2) -> dict:
    """Every arm and R, the five ways (WAYS) in fresh workers; `steps` None: max(4, 24 // R).
    `new_precision`: what trainer.precision=auto resolves to on this CPU (the new default is one
    model after another in that precision)."""
    rows = []
    for arm in ARMS:
        for r in replicates:
            args = {"arm": list(arm), "replicates": r, "warmup": warmup, "steps": steps or max(4, 24 // r)}
            row = {"arm": arm_name(arm), "replicates": r, "steps": args["steps"], "warmup": warmup}
            for key, mode, precision, env in WAYS:
                m = worker("packing", {**args, "mode": mode, "precision": precision, "data": "mnist"}, threads, env)
                row[key] = m["images"] / m["step_seconds"]
            row["new_default"] = row[f"alone_{new_precision}"]
            rows.append(row)
    return {"rows": rows, "new_precision": new_precision, "threads": threads}


def ratio_row(w: dict) -> list[str]:
    """The summary line: new default ÷ old default at the largest R, every arm (goal ≥ 2×)."""
    top = max(row["replicates"] for row in w["rows"])
    at_top = [row for row in w["rows"] if row["replicates"] == top]
    ratios = [row["new_default"] / row["old_default"] for row in at_top]
    shown = ", ".join(f"{row['arm']} {ratio:.2f}×" for row, ratio in zip(at_top, ratios, strict=True))
    return [
        f"per-model training throughput, new default ÷ old default, R = {top}, every arm",
        "≥ 2× every arm",
        shown,
        "yes" if min(ratios) >= 2 else "**no**",
    ]


def section(w: dict, calibration: str) -> list[str]:
    from ablate.report.markdown import table
    from benchmarks.report_sections import steps

    cells = [
        [
            row["arm"],
            row["replicates"],
            *(f"{row[key]:.0f}" for key, *_ in WAYS),
            f"{row['new_default'] / row['old_default']:.2f}×",
            f"{row['new_default'] / row['packed_fp32']:.2f}×",
        ]
        for row in w["rows"]
    ]
    new = f"one after another, {w['new_precision']}"
    header = ["arm", "R", "old default: packed fp32 PASSIVE", "packed fp32", "packed bf16", "alone fp32"]
    header += ["alone bf16", "new ÷ old default", "new default ÷ packed fp32 (same spin policy)"]
    first = w["rows"][0]
    by_rule = all(row["steps"] == max(4, 24 // row["replicates"]) for row in w["rows"])
    timed_steps = "max(4, 24 ÷ R) steps" if by_rule else steps(first["steps"])
    return [
        "## Replicates: the ways to train R models of one arm",
        "",
        calibration,
        "",
        "R replicates of one arm (each initialised by its own seed), each trained on its own batch of 128 "
        "images of the bundled MNIST's training split, Adam (`benchmarks/packing.py`). *alone*: one model "
        "after another, the plain step; *packed*: one vectorized model (`ablate/engine/vectorized.py`: "
        "`torch.func.stack_module_state` + `vmap(functional_call)`, the replicates' losses summed). fp32, or "
        "bf16: forward and loss under `torch.autocast` as `ablate/engine/steps.py` runs them. Images per "
        f"second over all R models, {steps(first['warmup'], 'warm-up step')} then {timed_steps} timed, "
        "each measurement in a fresh worker with "
        f"{w['threads']} threads. Old default: packed, fp32, `OMP_WAIT_POLICY=PASSIVE` (ablate's defaults "
        f"before this change); every other column runs with ablate's `GOMP_SPINCOUNT={SPIN_COUNT}`. The new default "
        f"is `trainer.pack=auto` and `trainer.precision=auto` on this CPU: {new}.",
        "",
        *table(header, cells),
        "",
    ]
