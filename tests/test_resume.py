"""Crashes and reruns: kill -9 mid-sweep, rerun, and every number equals an uninterrupted sweep's."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

pytestmark = pytest.mark.slow  # three 2-job sweeps of 6 epochs, one of them a subprocess killed mid-training

ARGS = [
    "-m",
    "model.skip=true,false",
    "data.limit=200",
    "trainer.epochs=6",
    "trainer.batch_size=32",
    "trainer.progress=false",
    "eval.kmeans_seeds=2",
    "eval.n_init=1",
    "trainer.snapshots=2",
    "tracking.experiment=crash",
    "hydra/job_logging=disabled",
    "replicates=1",
    # one thread in every process alike: the clean sweep runs in this process, where an earlier test
    # may have set torch's thread count, and float sums differ with it
    "trainer.threads=1",
]
KEYS = ("final_train_loss", "final_eval_loss", "purity_mean", "nmi_mean", "ari_mean", "psnr", "ssim")


def _children(launch_dir: Path) -> dict[str, object]:
    client = MlflowClient(f"sqlite:///{launch_dir / 'mlflow.db'}")
    exp = client.get_experiment_by_name("crash")
    return client, client.search_runs([exp.experiment_id])


def _by_arm(client, runs, parent_id):
    out = {}
    for run in runs:
        if run.data.tags.get("mlflow.parentRunId") == parent_id:
            history = [(m.step, m.value) for m in client.get_metric_history(run.info.run_id, "eval_loss")]
            out[run.data.params["model.skip"]] = ({k: run.data.metrics[k] for k in KEYS}, sorted(history), run)
    return out


def test_kill_9_then_rerun_resumes_and_matches_an_uninterrupted_sweep(ablate_cli, tmp_path):
    clean, crashed = tmp_path / "clean", tmp_path / "crashed"
    clean.mkdir(), crashed.mkdir()
    os.chdir(clean)
    assert ablate_cli(*ARGS)[0] == 0

    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "ablate", *ARGS],
        cwd=crashed,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 120
    try:  # wait until the first job has a checkpoint past epoch 2, then kill -9 mid-training
        while time.time() < deadline and proc.poll() is None:
            ckpts = list((crashed / "checkpoints").glob("*/last.pt"))
            if ckpts and _epoch(ckpts[0]) >= 2:
                break
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    _, runs = _children(crashed)
    assert any(r.info.status == "RUNNING" for r in runs)  # what a kill -9 leaves behind

    os.chdir(crashed)
    code, out, err = ablate_cli(*ARGS)
    assert code == 0, err
    client, runs = _children(crashed)
    # the rerun continued the killed sweep: its parent and the killed job's run, reopened and finished;
    # nothing in the store twice
    assert [r.info.status for r in runs] == ["FINISHED"] * 3, [(r.info.run_name, r.info.status) for r in runs]
    parent = next(r for r in runs if "mlflow.parentRunId" not in r.data.tags)
    resumed = _by_arm(client, runs, parent.info.run_id)
    assert "resumed from epoch" in out
    _, clean_runs = _children(clean)
    clean_parent = next(r for r in clean_runs if "mlflow.parentRunId" not in r.data.tags)
    reference = _by_arm(MlflowClient(f"sqlite:///{clean / 'mlflow.db'}"), clean_runs, clean_parent.info.run_id)
    assert set(resumed) == set(reference) == {"True", "False"}
    assert any("ablate.resumed_epoch" in resumed[arm][2].data.tags for arm in resumed)
    for arm in reference:
        assert resumed[arm][0] == reference[arm][0], arm  # every metric equal, bit for bit
        assert resumed[arm][1] == reference[arm][1], arm  # the whole eval-loss curve too
    assert not list((crashed / "checkpoints").glob("*/last.pt"))  # finished jobs keep final weights only

    report = Path(out.strip().splitlines()[-1].split("report: ", 1)[1])
    first = {p.relative_to(report.parent): p.read_bytes() for p in report.parent.rglob("*") if p.is_file()}

    # a third run of the same command skips both jobs: no new run, the same report, byte for byte
    code, out, _ = ablate_cli(*ARGS)
    assert code == 0
    client, again = _children(crashed)
    assert sorted(r.info.run_id for r in again) == sorted(r.info.run_id for r in runs)
    assert out.count("skipped: reusing run ") == 2
    assert Path(out.strip().splitlines()[-1].split("report: ", 1)[1]) == report
    assert {p.relative_to(report.parent): p.read_bytes() for p in report.parent.rglob("*") if p.is_file()} == first
    assert "![epoch 1](grids/" in report.read_text()


def _epoch(path: Path) -> int:
    import torch

    try:
        return int(torch.load(path, map_location="cpu", weights_only=True)["epoch"])
    except Exception:  # noqa: BLE001 - being replaced right now; look again
        return 0


def test_a_checkpoint_of_another_format_is_set_aside_not_loaded(tmp_path, capsys):
    """An older ablate's last.pt (a fingerprint can match across versions of an installed wheel)
    is as unreadable as a torn file: set aside with one warning, and the replicate trains afresh."""
    import torch

    from ablate.engine import checkpoint

    path = tmp_path / "checkpoints" / "abc" / "last.pt"
    path.parent.mkdir(parents=True)
    torch.save({"epoch": 1, "model": {}, "history": {}}, path)  # the format before one engine
    assert checkpoint.load(path) is None and not path.exists()
    assert list((tmp_path / "checkpoints" / "corrupt").glob("abc-*-last.pt"))
    assert "not this version's checkpoint format" in capsys.readouterr().err
