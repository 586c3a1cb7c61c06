"""trainer.stop=converged: each replicate trains until its own eval loss has plateaued
(ablate/engine/convergence.py), alone or inside a pack, and ends there; a stopped member of a pack
changes no more (weights, BatchNorm statistics, optimizer state); a kill -9 after a member stopped
resumes to the uninterrupted numbers; trainer.stop=epochs is as before."""

from __future__ import annotations

import copy
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from mlflow.tracking import MlflowClient

from ablate.data import split
from ablate.data.mnist5k import load
from ablate.engine import checkpoint
from ablate.engine.convergence import Rule
from ablate.engine.setup import make_optimizer, seed_everything
from ablate.engine.steps import PackStep
from ablate.engine.train import Member, Pack, TrainSpec, train
from ablate.engine.vectorized import Stack
from ablate.models.unet import UNet
from ablate.tasks.autoencode import Autoencode

CPU = torch.device("cpu")

# -- the engine: a pack's stopped member is frozen -------------------------------------------------


class Scripted:
    """A stand-in rule: member i stops after epoch at[i] (a real rule's stops hang on the curves).
    The loop hands it a member's own eval-loss list: that list tells the members apart."""

    def __init__(self, at: dict[int, int], members: list[Member]):
        self.at, self.members = at, members

    def holds(self, losses: list[float]) -> bool:
        (r,) = [i for i, m in enumerate(self.members) if m.history.eval_loss is losses]
        return r in self.at and len(losses) >= self.at[r]


@pytest.fixture(scope="module")
def tiny():
    return split(load(), 0.25, 0, limit=160)


def _slices(step: PackStep, r: int) -> dict[str, torch.Tensor]:
    """Member r's slice of every stacked tensor: parameters, buffers (BatchNorm) and optimizer state."""
    out = {f"param {k}": v[r].detach().clone() for k, v in step.stack.params.items()}
    out.update({f"buffer {k}": v[r].clone() for k, v in step.stack.buffers.items()})
    for name, p in step.stack.params.items():
        for key, v in step.optimizer.state[p].items():
            if v.shape == p.shape:
                out[f"optimizer {name} {key}"] = v[r].clone()
    return out


def _pack(tiny, epochs, optimizer="adam", stops=None, path=None, resume=None):
    """Three mnist U-Nets (BatchNorm inside) trained as one pack; member i stops after stops[i]."""
    models = []
    for seed in range(3):
        seed_everything(seed)
        models.append(UNet(1, 1, (4, 8), 16, skip=True, bottleneck=False))
    stack = Stack(models)
    step = PackStep(stack, make_optimizer(list(stack.params.values()), optimizer, 1e-2, 0.9, 0.0))
    seen: dict[int, tuple[int, dict, dict]] = {}  # member -> (its stop epoch, its model's state, its slices)

    def on_stop(r):
        return lambda epoch: seen.setdefault(r, (epoch, copy.deepcopy(models[r].state_dict()), _slices(step, r)))

    members = [Member(m, seed, on_stop=on_stop(seed)) for seed, m in enumerate(models)]
    rule = None if stops is None else Scripted(stops, members)
    spec = TrainSpec(epochs=epochs, batch_size=32, device=CPU, progress=False, checkpoint=path, stop=rule)
    train(Pack(members, step), Autoencode(), *tiny, spec, resume)
    return members, step, seen


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_a_stopped_pack_member_changes_no_more_and_the_others_train_as_without_it(tiny, optimizer):
    members, step, seen = _pack(tiny, 5, optimizer, stops={0: 2, 1: 3})
    free, free_step, _ = _pack(tiny, 5, optimizer)  # the same pack, nobody stopping
    assert [m.stopped_at for m in members] == [2, 3, None] and sorted(seen) == [0, 1]
    for r, (epoch, state, slices) in seen.items():
        assert epoch == members[r].stopped_at and len(members[r].history.eval_loss) == epoch  # not evaluated since
        assert members[r].history.eval_loss == free[r].history.eval_loss[:epoch]
        # three epochs or two later: its model, and its slices of the pack (BatchNorm's running
        # statistics, Adam's moments or SGD's momentum included), exactly as when it stopped
        for key, value in members[r].model.state_dict().items():
            assert torch.equal(value, state[key]), key
        now = _slices(step, r)
        assert any(k.startswith("optimizer") for k in now) and any("running_var" in k for k in now)
        assert set(now) == set(slices) and all(torch.equal(now[k], slices[k]) for k in now), r
    # the member that trained on: the same numbers as in a pack where nobody stopped
    assert members[2].history.eval_loss == free[2].history.eval_loss and len(members[2].history.eval_loss) == 5
    assert all(torch.equal(v, free[2].model.state_dict()[k]) for k, v in members[2].model.state_dict().items())


def test_a_pack_resumed_after_a_stop_refreezes_it_and_matches_an_uninterrupted_pack(tiny, tmp_path):
    whole, whole_step, _ = _pack(tiny, 5, stops={0: 2, 1: 4})
    path = tmp_path / "last.pt"
    _pack(tiny, 3, stops={0: 2, 1: 4}, path=path)  # "killed" after epoch 3: member 0 stopped at 2
    state = checkpoint.load(path)
    assert state["stopped"] == [2, None, None]
    resumed, resumed_step, seen = _pack(tiny, 5, stops={0: 2, 1: 4}, resume=state)
    assert [m.stopped_at for m in resumed] == [2, 4, None]
    assert sorted(seen) == [0, 1] and seen[0][0] == 2  # a stop the checkpoint recorded: on_stop called again
    for got, ref in zip(resumed, whole, strict=True):
        assert got.history.train_loss == ref.history.train_loss and got.history.eval_loss == ref.history.eval_loss
    ref_weights, got_weights = whole_step.weights(), resumed_step.weights()
    assert all(torch.equal(got_weights[k], ref_weights[k]) for k in ref_weights)


def test_a_checkpoint_without_stops_still_resumes(tiny, tmp_path):
    """A checkpoint written before stops existed (no "stopped"): it loads, nobody stopped."""
    whole, _, _ = _pack(tiny, 3)
    path = tmp_path / "last.pt"
    _pack(tiny, 2, path=path)
    state = torch.load(path, weights_only=True)
    del state["stopped"]
    torch.save(state, path)
    resumed, _, _ = _pack(tiny, 3, resume=checkpoint.load(path))
    assert [m.history.eval_loss for m in resumed] == [m.history.eval_loss for m in whole]


# -- the job: each replicate's run ends at its own stop -----------------------------------------------

# seeds 0, 1, 2 stop at epochs 7, 6, 9 one by one (8, 6, 9 packed) with the rule as it is now; the tests
# read the rule itself: only that some stop early, at different epochs, hangs on these settings
RULE, CEILING = Rule(patience=1, min_delta=0.1), 10
# trainer.threads=1: every process alike (an earlier in-process test may have set torch's threads)
ARGS = ["data.limit=300", f"trainer.epochs={CEILING}", "trainer.batch_size=32", "trainer.progress=false",
        "eval.kmeans_seeds=2", "eval.n_init=1", "trainer.snapshots=2", "replicates=3", "hydra/job_logging=disabled",
        "trainer.stop=converged", f"trainer.patience={RULE.patience}",
        f"trainer.min_delta={RULE.min_delta}",
        "trainer.threads=1"]  # fmt: skip
KEYS = ("final_train_loss", "final_eval_loss", "purity_mean", "psnr", "ssim", "stop_epoch")


def _runs(folder: Path) -> tuple[MlflowClient, dict[str, object]]:
    client = MlflowClient(f"sqlite:///{folder / 'mlflow.db'}")
    runs = client.search_runs([client.get_experiment_by_name("ablate").experiment_id])
    return client, {r.data.params["seed"]: r for r in runs}


def _curve(client: MlflowClient, run, key: str = "eval_loss") -> dict[int, set[float]]:
    """step -> every value logged (an epoch redone after a kill: twice, the same)."""
    curve: dict[int, set[float]] = {}
    for m in client.get_metric_history(run.info.run_id, key):
        curve.setdefault(m.step, set()).add(m.value)
    return curve


def _check_each_run_stopped_by_the_rule(client: MlflowClient, runs: dict) -> dict[str, int]:
    """Every run ended FINISHED where the rule stops its own logged curve, and says so; its stop epochs."""
    stops = {}
    for seed, run in runs.items():
        curve = _curve(client, run)
        losses = [min(curve[step]) for step in sorted(curve)]
        stop = RULE.first(losses) or CEILING
        assert run.info.status == "FINISHED" and sorted(curve) == list(range(1, stop + 1)), seed
        assert run.data.metrics["stop_epoch"] == stop
        assert [m.step for m in client.get_metric_history(run.info.run_id, "final_eval_loss")] == [stop]
        converged = f"converged at epoch {stop} ({RULE.describe()})"
        ceiling = f"ceiling: trainer.epochs={CEILING} reached before converging"
        assert run.data.tags["ablate.stop"] == (converged if stop < CEILING else ceiling)
        grids = [a.path for a in client.list_artifacts(run.info.run_id, "progress")]
        assert f"progress/epoch_{stop:03d}.png" in grids  # its last epoch's grid
        stops[seed] = stop
    assert min(stops.values()) < CEILING, stops  # the settings make replicates stop early
    return stops


def test_one_by_one_each_replicate_stops_where_its_own_curve_converges(ablate_cli, launch_dir):
    code, out, err = ablate_cli(*ARGS, "trainer.pack=1")
    assert code == 0, err
    client, runs = _runs(launch_dir)
    assert sorted(runs) == ["0", "1", "2"]
    _check_each_run_stopped_by_the_rule(client, runs)


def _weights(client: MlflowClient, run, folder: Path) -> dict[str, torch.Tensor]:
    path = client.download_artifacts(run.info.run_id, "model.pt", str(folder))
    return torch.load(path, weights_only=True)


@pytest.fixture(scope="module")
def packed(tmp_path_factory) -> Path:
    """The pack of three trained once, uninterrupted: the reference of the tests below."""
    from hydra.core.global_hydra import GlobalHydra

    from ablate.__main__ import main

    folder = tmp_path_factory.mktemp("packed")
    with pytest.MonkeyPatch.context() as mp:  # as the ablate_cli fixture runs it, once for the module
        mp.chdir(folder)
        mp.setattr(sys, "argv", ["ablate", *PACK])
        try:
            main()
        except SystemExit as exc:
            assert exc.code in (0, None), exc
        finally:
            GlobalHydra.instance().clear()
    return folder


PACK = [*ARGS, "trainer.pack=3"]


def test_a_pack_member_ends_at_its_stop_while_the_pack_trains_on(ablate_cli, launch_dir, packed):
    client, runs = _runs(packed)
    stops = _check_each_run_stopped_by_the_rule(client, runs)
    assert len(set(stops.values())) > 1, stops  # members stop at different epochs
    first, last = min(stops, key=stops.get), max(stops, key=stops.get)
    # its run ended (FINISHED, with its final metrics) while a later member was still logging epochs
    later = [m.timestamp for m in client.get_metric_history(runs[last].info.run_id, "eval_loss")]
    assert runs[first].info.end_time < max(later)
    assert {r.data.params["pack_size"] for r in runs.values()} == {"3"}
    assert not list((packed / "checkpoints").glob("pack-*"))

    # the same pack trained exactly to that member's stop epoch (trainer.stop=epochs): its model
    # (parameters and BatchNorm statistics) and final metrics equal the stopped member's, bit for bit
    # (nothing changed after its stop), and the others' curves are the same up to there
    fixed_args = [a for a in PACK if not a.startswith(("trainer.stop", "trainer.epochs"))]
    assert ablate_cli(*fixed_args, f"trainer.epochs={stops[first]}")[0] == 0
    fixed_client, fixed_runs = _runs(launch_dir)
    for seed, run in fixed_runs.items():
        assert run.data.tags["ablate.stop"] == "trainer.stop=epochs" and run.data.metrics["stop_epoch"] == stops[first]
        assert _curve(fixed_client, run) == {s: v for s, v in _curve(client, runs[seed]).items() if s <= stops[first]}
    want, got = _weights(fixed_client, fixed_runs[first], launch_dir), _weights(client, runs[first], launch_dir)
    assert any("running_var" in k for k in got) and set(got) == set(want)
    assert all(torch.equal(got[k], want[k]) for k in want)
    assert all(fixed_runs[first].data.metrics[k] == runs[first].data.metrics[k] for k in KEYS)


def _matches(folder: Path, reference: Path) -> None:
    """The runs in `folder` (a rerun after an interruption) ended with the reference's numbers."""
    client, runs = _runs(folder)
    ref_client, ref = _runs(reference)
    assert sorted(runs) == ["0", "1", "2"] and all(r.info.status == "FINISHED" for r in runs.values())
    for seed in ref:
        assert [runs[seed].data.metrics[k] for k in KEYS] == [ref[seed].data.metrics[k] for k in KEYS], seed
        assert _curve(client, runs[seed]) == _curve(ref_client, ref[seed]), seed  # every epoch, bit for bit
    assert not list((folder / "checkpoints").glob("pack-*"))


def _stopped_epoch(path: Path) -> tuple[int, list]:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        return int(state["epoch"]), list(state["stopped"])
    except Exception:  # noqa: BLE001 - being replaced right now; look again
        return 0, []


def test_kill_9_after_a_member_stopped_then_rerun_matches_an_uninterrupted_pack(ablate_cli, launch_dir, packed):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    out = subprocess.DEVNULL
    proc = subprocess.Popen([sys.executable, "-m", "ablate", *PACK], cwd=launch_dir, env=env, stdout=out, stderr=out)
    deadline = time.time() + 300
    try:  # wait until the pack's checkpoint is an epoch past a member's stop (so its run has ended), then kill -9
        while time.time() < deadline and proc.poll() is None:
            found = list((launch_dir / "checkpoints").glob("pack-*/last.pt"))
            epoch, stopped = _stopped_epoch(found[0]) if found else (0, [])
            if any(s is not None and epoch > s for s in stopped):
                break
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    _, killed = _runs(launch_dir)
    status = sorted(r.info.status for r in killed.values())
    assert status == ["FINISHED", "RUNNING", "RUNNING"], status  # the stopped member had ended; the others not
    done = next(seed for seed, r in killed.items() if r.info.status == "FINISHED")

    code, out, err = ablate_cli(*PACK)
    assert code == 0, err
    # the same pack resumed, its finished member frozen in it, that member's run left alone
    assert "resumed from epoch" in out and f"seed {done} skipped" in out
    assert _runs(launch_dir)[1][done].info.end_time == killed[done].info.end_time
    _matches(launch_dir, packed)


def test_interrupted_while_a_member_ends_then_rerun_ends_it_and_matches(ablate_cli, launch_dir, packed, monkeypatch):
    """Killed after the checkpoint that records a member's stop, before its run finished (here: an
    interrupt inside its final evaluation): the rerun restores the pack, ends that member first
    (final evaluation, artifacts, FINISHED) and trains the others on, to the same numbers."""
    from ablate.job.replicate import Replicate

    real = Replicate.finalize

    def interrupted(self, *args, **kwargs):
        raise KeyboardInterrupt("test interrupt while a replicate ends")

    monkeypatch.setattr(Replicate, "finalize", interrupted)
    code, _, err = ablate_cli(*PACK)
    assert code == 130, err
    (pack,) = (launch_dir / "checkpoints").glob("pack-*/last.pt")
    epoch, stopped = _stopped_epoch(pack)
    assert [s for s in stopped if s is not None] == [epoch]  # the checkpoint records the stop, nothing more
    _, killed = _runs(launch_dir)
    assert sorted(r.info.status for r in killed.values()) == ["KILLED"] * 3

    monkeypatch.setattr(Replicate, "finalize", real)
    code, out, err = ablate_cli(*PACK)
    assert code == 0 and f"resumed from epoch {epoch}" in out, err
    _matches(launch_dir, packed)
