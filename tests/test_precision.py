"""trainer.precision: the fixed rule behind `auto`, decided once per sweep, logged and
fingerprinted; and one bf16 step of each way of training replicates (one after another, or a
vectorized pack) against separate fp32 models, within bf16's tolerance."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import torch
from helpers.runs import TINY
from mlflow.tracking import MlflowClient

from ablate.engine import setup
from ablate.engine.setup import autocast, resolve_precision, seed_everything
from ablate.engine.vectorized import Stack
from ablate.job.precision import ENV_PRECISION, RESOLVED, job_precision, sweep_precisions
from ablate.models.unet import UNet
from ablate.tasks.autoencode import Autoencode

CPU = torch.device("cpu")
ARMS = [(True, True), (True, False), (False, True), (False, False)]


@pytest.mark.parametrize("amx", [True, False])
def test_auto_is_fp32_on_every_cpu_until_bf16_is_shown_equivalent(monkeypatch, amx):
    monkeypatch.setattr(setup, "cpu_has_amx_bf16", lambda: amx)
    assert resolve_precision("auto", CPU) == "fp32" == sweep_precisions()["cpu"]
    assert resolve_precision("fp32", CPU) == "fp32" and resolve_precision("bf16", CPU) == "bf16"
    monkeypatch.setattr(setup, "CPU_BF16_SHOWN_EQUIVALENT", True)  # then: bf16 where AMX-BF16 pays
    assert resolve_precision("auto", CPU) == ("bf16" if amx else "fp32")


def test_the_amx_probe_agrees_with_the_processor_flags():
    flags = set()
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("flags"):
            flags |= set(line.split(":", 1)[1].split())
    assert setup.cpu_has_amx_bf16() == ("amx_bf16" in flags)


def test_a_job_takes_the_sweeps_choice_and_an_explicit_setting_as_written(monkeypatch):
    other = "fp32" if resolve_precision("auto", CPU) == "bf16" else "bf16"
    monkeypatch.setenv(ENV_PRECISION, json.dumps({"cpu": other}))
    assert job_precision("auto", CPU) == other  # the sweep decided, not this machine
    assert job_precision("fp32", CPU) == "fp32" and job_precision("bf16", CPU) == "bf16"
    monkeypatch.delenv(ENV_PRECISION)
    assert job_precision("auto", CPU) == resolve_precision("auto", CPU)  # a single run decides itself


def _grads(model, x, task, dtype) -> tuple[torch.Tensor, torch.Tensor]:
    with autocast(CPU, dtype):
        out, _ = model(x)
        loss = task.loss(task.output(out), x)
    loss.backward()
    return out.float(), torch.cat([p.grad.flatten() for p in model.parameters()])


@pytest.mark.parametrize("skip,bottleneck", ARMS, ids=[f"skip={s}-bottleneck={b}" for s, b in ARMS])
def test_a_bf16_step_of_each_way_matches_separate_fp32_models_within_bf16_tolerance(skip, bottleneck):
    """Relative to the gradient of the same model in fp32: bf16 rounds each product to 8 bits of
    mantissa, so a deep path without skips drifts by up to ~30% of the gradient's norm (measured:
    3% with skips, 8-28% without); a wrong model (another replicate's weights, a stale batch)
    is off by ~100%."""
    task, replicates = Autoencode(), 3
    models = []
    for seed in range(replicates):
        seed_everything(seed)
        models.append(UNet(1, 1, skip=skip, bottleneck=bottleneck))
    reference, alone, stack = [copy.deepcopy(m) for m in models], [copy.deepcopy(m) for m in models], Stack(models)
    torch.manual_seed(0)
    x = torch.rand(replicates, 16, 1, 28, 28)
    with autocast(CPU, torch.bfloat16):
        raw, _ = stack(x)
        losses = torch.stack([task.loss(task.output(raw[r]), x[r]) for r in range(replicates)])
    losses.sum().backward()
    names = [name for name, _ in models[0].named_parameters()]
    for r in range(replicates):
        out32, grad32 = _grads(reference[r], x[r], task, None)
        out16, grad16 = _grads(alone[r], x[r], task, torch.bfloat16)
        packed = torch.cat([stack.params[name].grad[r].flatten() for name in names])
        for out in (out16, raw[r].float()):
            assert (out - out32).norm() / out32.norm() < 0.1
        for grad in (grad16, packed):
            assert (grad - grad32).norm() / grad32.norm() < 0.5
        assert (out16 - out32).norm() > 0  # bf16 did compute in bf16 (not silently in fp32)


def _runs(launch_dir: Path) -> list:
    client = MlflowClient(f"sqlite:///{launch_dir / 'mlflow.db'}")
    exp = client.get_experiment_by_name("ablate")
    return client.search_runs([exp.experiment_id], order_by=["attributes.start_time ASC"])


def test_the_resolved_precision_is_a_param_and_part_of_the_fingerprint(ablate_cli, launch_dir, monkeypatch):
    """trainer.precision=auto in every command: what it resolves to decides reuse."""
    for precision in ("fp32", "fp32", "bf16"):  # as a sweep's process would hand it over
        monkeypatch.setenv(ENV_PRECISION, json.dumps({"cpu": precision}))
        assert ablate_cli(*TINY)[0] == 0
    runs = [r for r in _runs(launch_dir) if r.info.status == "FINISHED"]
    assert [r.data.params[RESOLVED] for r in runs] == ["fp32", "bf16"]  # the second fp32 command reused
    assert {r.data.params["trainer.precision"] for r in runs} == {"auto"}
    assert len({r.data.tags["ablate/fingerprint"] for r in runs}) == 2
    monkeypatch.setenv(ENV_PRECISION, json.dumps({"cpu": "bf16"}))
    assert ablate_cli(*TINY, "trainer.precision=bf16")[0] == 0  # bf16 asked for by name: the same run
    assert len([r for r in _runs(launch_dir) if r.info.status == "FINISHED"]) == 2


def test_a_bad_handed_over_precision_fails_the_job_with_the_reason(ablate_cli, launch_dir, monkeypatch):
    monkeypatch.setenv(ENV_PRECISION, json.dumps({"cpu": "fp16"}))
    code, _, err = ablate_cli(*TINY)
    assert code == 1 and "ABLATE_PRECISION gives cpu: fp16 (allowed: fp32, bf16)" in err
    assert {r.info.status for r in _runs(launch_dir)} == {"FAILED"}
