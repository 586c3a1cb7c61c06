"""hydra/launcher=slurm on a real one-node Slurm cluster with accounting (tests/helpers/slurm.py,
from Debian's packages; skipped, saying why, where they are missing or the tests are not root).

The jobs track to an `mlflow server` on loopback, as a cluster's nodes would. Each sweep is its
own `python -m ablate` process, so that the test can `scancel` its jobs while it waits.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers.runs import TINY
from helpers.server import serve
from helpers.slurm import cluster, unavailable
from mlflow.tracking import MlflowClient

pytestmark = pytest.mark.slow  # real sweeps through a real scheduler

# what this CPU node can grant a job (the preset asks for a GPU, 8 CPUs and 32 GB)
NODE = ["hydra/launcher=slurm", "hydra.launcher.gpus_per_node=0", "hydra.launcher.cpus_per_task=1",
        "hydra.launcher.mem_gb=1"]  # fmt: skip


@pytest.fixture(scope="module")
def slurm(tmp_path_factory):
    reason = unavailable()
    if reason:
        pytest.skip(reason)
    with cluster(tmp_path_factory.mktemp("slurm"), cpus=4) as c:  # 4 slots on 2 cores: jobs share them
        yield c


@pytest.fixture(scope="module")
def server(slurm, tmp_path_factory):
    with serve(tmp_path_factory.mktemp("mlflow")) as s:
        yield f"http://127.0.0.1:{s['port']}"


def start(slurm, cwd: Path, *args: str) -> subprocess.Popen:
    cwd.mkdir(exist_ok=True)
    cmd = [sys.executable, "-m", "ablate", "-m", *NODE, *args]
    return subprocess.Popen(cmd, cwd=cwd, env=slurm.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(proc: subprocess.Popen, timeout: float = 300) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def runs_of(uri: str, experiment: str) -> tuple[MlflowClient, list, list]:
    client = MlflowClient(uri)
    runs = client.search_runs([client.get_experiment_by_name(experiment).experiment_id])
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    return client, parents, [r for r in runs if "mlflow.parentRunId" in r.data.tags]


def tasks(slurm, prefix: str = "") -> dict[str, str]:
    """Every array task Slurm knows (sacct): {"12_0": "COMPLETED", ...}."""
    rows = slurm.sh("sacct", "-X", "-n", "-P", "-o", "JobID,State").splitlines()
    return {j: s.split()[0] for j, s in (r.split("|") for r in rows) if j.startswith(prefix)}


def array_of(launch: Path, proc: subprocess.Popen) -> str:
    """The Slurm job id of a sweep's array, once submitted (submitit names a folder after it)."""
    deadline = time.monotonic() + 120
    while not (found := list(launch.glob("multirun/*/*/.submitit/*/*_submission.sh"))):
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.2)
    return found[0].parent.name


def results(launch: Path) -> dict[str, dict[str, str]]:
    """The report's results.csv by run name, without what is timed or named per run."""
    path = next(launch.glob("reports/*/results.csv"))
    rows = list(csv.DictReader(path.open()))
    timed = ("run_id", "_seconds", "_cost_s")
    return {r["name"]: {k: v for k, v in r.items() if not k.endswith(timed)} for r in rows}


def test_the_quick_start_sweep_on_slurm_reports_what_the_same_sweep_reports_locally(
    slurm, server, tmp_path, ablate_cli, monkeypatch
):
    grid = ["model.skip=true,false", "model.bottleneck=true,false", *TINY, "replicates=2", "trainer.pack=2"]
    sweep = ["hydra.launcher.array_parallelism=2", "hydra.launcher.timeout_min=10", f"tracking.uri={server}",
             "tracking.experiment=qs", *grid]  # fmt: skip
    on_slurm = start(slurm, tmp_path / "slurm", *sweep)
    # meanwhile the same sweep on this machine, one thread per job as on the cluster
    (tmp_path / "local").mkdir()
    monkeypatch.chdir(tmp_path / "local")
    code, _, err = ablate_cli("-m", "trainer.threads=1", "tracking.experiment=qs", *grid)
    assert code == 0, err
    code, out, err = finish(on_slurm)
    assert code == 0, err[-4000:]
    assert out.strip().splitlines()[-1].startswith("report: ")
    # one array job, one task per cell, at most 2 running at once
    script = next((tmp_path / "slurm").glob("multirun/*/*/.submitit/*/*_submission.sh"))
    assert "#SBATCH --array=0-3%2" in script.read_text() and "#SBATCH --cpus-per-task=1" in script.read_text()
    array = script.parent.name
    assert sorted(tasks(slurm, f"{array}_").values()) == ["COMPLETED"] * 4
    client, parents, children = runs_of(server, "qs")
    assert [p.info.status for p in parents] == ["FINISHED"] and len(children) == 8  # 4 cells x 2 replicates
    assert {c.info.status for c in children} == {"FINISHED"}
    assert {c.data.params["pack_size"] for c in children} == {"2"}  # each job trained its replicates packed
    assert {c.data.tags["ablate.threads"] for c in children} == {"1"}  # cpus_per_task
    assert all(f"/.submitit/{array}_" in c.data.tags["ablate.job_log"] for c in children)  # its job's log
    # the report's numbers: equal, run for run (all but the timings)
    slurm_rows, here = results(tmp_path / "slurm"), results(tmp_path / "local")
    assert sorted(slurm_rows) == sorted(here) and len(here) == 8
    differ = {
        (n, k): (v, here[n].get(k)) for n, row in slurm_rows.items() for k, v in row.items() if here[n].get(k) != v
    }
    assert not differ and len(here["skip=True bottleneck=True seed=1"]) > 20


def test_rounds_of_seeds_are_arrays_of_the_same_sweep(slurm, server, tmp_path):
    """replicates=auto on the cluster: each round one array job, all under one parent run."""
    tiny = [a for a in TINY if not a.startswith("replicates=")]
    args = ["hydra.launcher.array_parallelism=2", "hydra.launcher.timeout_min=10", f"tracking.uri={server}",
            "tracking.experiment=rounds", "model.skip=true,false", "model.bottleneck=true,false", *tiny,
            "replicates=auto", "sequential.min=2", "sequential.max=3"]  # fmt: skip
    code, out, err = finish(start(slurm, tmp_path / "rounds", *args))
    assert code == 0, err[-3000:]
    client, parents, children = runs_of(server, "rounds")
    (parent,) = parents
    rounds = json.loads(parent.data.tags["ablate.rounds"])["rounds"]
    assert [r["seeds"] for r in rounds] == [2, 3]
    arrays = {p.parent.name for p in (tmp_path / "rounds").glob("multirun/*/*/.submitit/*/*_submission.sh")}
    assert len(arrays) == 2 and all(set(tasks(slurm, f"{a}_").values()) == {"COMPLETED"} for a in arrays)
    assert {c.info.status for c in children} == {"FINISHED"} and 8 < len(children) <= 12
    assert {c.data.tags["mlflow.parentRunId"] for c in children} == {parent.info.run_id}


def test_a_design_is_one_array_of_its_arms(slurm, server, tmp_path):
    """design=leave_one_out on the cluster: the design's arms (not the grid's) as one array job."""
    args = ["hydra.launcher.array_parallelism=3", "hydra.launcher.timeout_min=10", f"tracking.uri={server}",
            "tracking.experiment=design", "design=leave_one_out", "model.skip=true,false",
            "model.bottleneck=true,false", *TINY]  # fmt: skip
    code, out, err = finish(start(slurm, tmp_path / "design", *args))
    assert code == 0, err[-3000:]
    client, (parent,), children = runs_of(server, "design")
    arms = {(c.data.params["model.skip"], c.data.params["model.bottleneck"]) for c in children}
    assert arms == {("True", "True"), ("False", "True"), ("True", "False")} and len(children) == 3
    assert parent.data.tags["ablate.design"].startswith("leave_one_out: 3 arms")
    (array,) = {p.parent.name for p in (tmp_path / "design").glob("multirun/*/*/.submitit/*/*_submission.sh")}
    assert set(tasks(slurm, f"{array}_").values()) == {"COMPLETED"}


def test_faults_on_the_scheduler_close_every_run_report_the_hole_and_a_rerun_resumes_it(slurm, server, tmp_path):
    """Three sweeps at once on the cluster:
    - cancel: two cells; one is cancelled (scancel) while it trains; then the same command again;
    - fail: a job failing in Python, and a job cancelled while it waits its turn;
    - limit: a cell that outlives its 2-minute limit (SIGUSR2 30 to 90 s before it, else SIGTERM)."""
    common = [f"tracking.uri={server}", *TINY]
    limit = start(slurm, tmp_path / "limit", "hydra.launcher.timeout_min=2", "hydra.launcher.signal_delay_s=30",
                  "tracking.experiment=limit", *common, "trainer.epochs=100000")  # fmt: skip
    failing = ["hydra.launcher.array_parallelism=1", "hydra.launcher.timeout_min=10", "tracking.experiment=fail",
               "model.skip=true,false", "trainer.device=cuda", *common]  # fmt: skip
    fail = start(slurm, tmp_path / "fail", *failing)
    cancelling = ["hydra.launcher.timeout_min=10", "tracking.experiment=cancel", "trainer.lr=1e-3,2e-3", *common,
                  "data.limit=600", "trainer.epochs=8", "replicates=2", "trainer.pack=2"]  # fmt: skip
    cancel = start(slurm, tmp_path / "cancel", *cancelling)
    # fail: its second cell waits for the first (array_parallelism=1): cancel it while it waits
    failed_array = array_of(tmp_path / "fail", fail)
    states: dict[str, str] = {}
    while sorted(states.values()) != ["PENDING", "RUNNING"]:
        assert fail.poll() is None, fail.communicate()
        squeue = slurm.sh("squeue", "-h", "-r", "-j", failed_array, "-o", "%i %T").splitlines()
        states = dict(line.split() for line in squeue)
        time.sleep(0.2)
    pending = next(j for j, s in states.items() if s == "PENDING")
    slurm.sh("scancel", pending)
    # cancel: both cells past their first epoch, then one is cancelled
    array = array_of(tmp_path / "cancel", cancel)
    deadline = time.monotonic() + 180
    while len(list((tmp_path / "cancel").glob("checkpoints/*/last.pt"))) < 2:
        assert cancel.poll() is None and time.monotonic() < deadline, cancel.communicate()
        time.sleep(0.2)
    slurm.sh("scancel", f"{array}_1")
    check_fail(finish(fail), server, tmp_path, pending)
    check_cancel(finish(cancel), slurm, server, tmp_path, array)
    done = {c.info.run_id: c.info.end_time for c in runs_of(server, "cancel")[2] if c.info.status == "FINISHED"}
    # the same command again: the finished cell is skipped, the cancelled one goes on from its checkpoint
    code, out, err = finish(start(slurm, tmp_path / "cancel", *cancelling))
    assert code == 0, err[-3000:]
    client, parents, children = runs_of(server, "cancel")
    assert len(children) == 4 and {c.info.status for c in children} == {"FINISHED"}
    assert {c.info.run_id: c.info.end_time for c in children if c.info.run_id in done} == done  # untouched
    resumed = [c for c in children if c.info.run_id not in done]
    assert all(int(c.data.tags["ablate.resumed_epoch"]) >= 1 for c in resumed)  # in place, from the checkpoint
    logs = [p.read_text() for p in (tmp_path / "cancel").glob("multirun/*/*/.submitit/*/*_0_log.out")]
    assert sum("seeds 0, 1 resumed from epoch" in text for text in logs) == 1  # its job said so
    # limit: the job closed its run KILLED (its checkpoint kept), the sweep reported it
    code, out, err = finish(limit)
    assert code == 1 and "1 of 1 runs failed (see the report)" in err, err[-3000:]
    client, parents, children = runs_of(server, "limit")
    assert [c.info.status for c in children] == ["KILLED"] and [p.info.status for p in parents] == ["FAILED"]
    assert any(why in children[0].data.tags["ablate.error"] for why in ("time limit", "SIGTERM"))
    assert list((tmp_path / "limit").glob("checkpoints/*/last.pt"))
    assert "- KILLED: " in next((tmp_path / "limit").glob("reports/*/report.md")).read_text()


def check_cancel(result: tuple[int, str, str], slurm, server: str, tmp_path: Path, array: str) -> None:
    """The cancelled cell's runs KILLED, the other cell's FINISHED, the report written with the
    hole and the job's log, the command failed naming the cell."""
    code, out, err = result
    assert code == 1, err[-3000:]
    assert "2 of 4 runs failed (see the report): lr=0.002 seed=0 KILLED; lr=0.002 seed=1 KILLED" in err
    states = tasks(slurm, f"{array}_")
    assert (states[f"{array}_0"], states[f"{array}_1"]) == ("COMPLETED", "CANCELLED"), states
    client, parents, children = runs_of(server, "cancel")
    assert [p.info.status for p in parents] == ["FAILED"]
    status = {(c.data.params["trainer.lr"], c.info.status) for c in children}
    assert status == {("0.001", "FINISHED"), ("0.002", "KILLED")} and len(children) == 4  # none left RUNNING
    assert all("SIGTERM" in c.data.tags["ablate.error"] for c in children if c.info.status == "KILLED")
    report = next((tmp_path / "cancel").glob("reports/*/report.md")).read_text()
    assert report.count("- KILLED: `lr=0.002 seed=") == 2 and f"/.submitit/{array}_1/{array}_1_0_log.out`" in report


def check_fail(result: tuple[int, str, str], server: str, tmp_path: Path, pending: str) -> None:
    """The cell that failed in Python: FAILED, its traceback an artifact, its job's log in the
    report; the cell cancelled while it waited: recorded KILLED, named on the command's stderr."""
    code, out, err = result
    assert code == 1
    assert f"error: skip=False: slurm job {pending} CANCELLED; log: " in err
    client, parents, children = runs_of(server, "fail")
    assert [p.info.status for p in parents] == ["FAILED"] and len(children) == 2
    failed = next(c for c in children if c.data.params.get("model.skip") == "True")
    assert failed.info.status == "FAILED" and "no CUDA device" in failed.data.tags["ablate.error"]
    trace = Path(client.download_artifacts(failed.info.run_id, "error/traceback.txt", str(tmp_path)))
    assert "Traceback" in trace.read_text() and "no CUDA device" in trace.read_text()
    log = Path(failed.data.tags["ablate.job_log"])
    assert log.is_file() and "no CUDA device" in log.read_text()  # what the job printed
    lost = next(c for c in children if c is not failed)
    assert lost.info.status == "KILLED" and lost.data.tags["ablate.error"] == f"slurm job {pending} CANCELLED"
    report = next((tmp_path / "fail").glob("reports/*/report.md")).read_text()
    assert f"(log: `{log}`)" in report and f"slurm job {pending} CANCELLED" in report


def test_what_the_cluster_cannot_grant_is_one_line_before_or_at_submission(slurm, ablate_cli, launch_dir, monkeypatch):
    monkeypatch.setenv("SLURM_CONF", slurm.env["SLURM_CONF"])
    grid = ["hydra/launcher=slurm", "model.skip=true,false"]
    code, _, err = ablate_cli("-m", *grid, "hydra.launcher.partition=gpu")
    assert code == 2 and err == "error: hydra.launcher.partition=gpu: no such partition (allowed: debug)\n"
    code, _, err = ablate_cli("-m", *grid)  # the preset asks for a GPU
    assert code == 2 and err.startswith("error: hydra.launcher.gpus_per_node=1: no node of partition debug has a GPU")
    # Slurm itself would accept an array asking for more CPUs than the node has, and keep it pending
    code, _, err = ablate_cli("-m", *grid, "hydra.launcher.gpus_per_node=0")
    assert code == 2 and err == (
        "error: hydra.launcher.cpus_per_task=8: the largest node of partition debug has 4 CPUs "
        "(allowed: cpus_per_task x tasks_per_node <= 4)\n"
    )
    code, _, err = ablate_cli("-m", *grid, *NODE[1:3], "hydra.launcher.mem_gb=100000")
    assert code == 2 and err.startswith("error: hydra.launcher.mem_gb=100000: the largest node of partition debug has")
    assert list(launch_dir.iterdir()) == []  # refused before anything was written
    # what only sbatch knows: it refuses the array, the sweep's parent run says why
    code, _, err = ablate_cli("-m", *grid, *NODE[1:], "hydra.launcher.constraint=nosuch")
    assert code == 1 and err.strip().splitlines()[-1] == (
        "error: hydra/launcher=slurm: the jobs were not submitted: sbatch: error: Batch job submission failed: "
        "Invalid feature specification"
    )
    parent = MlflowClient(f"sqlite:///{launch_dir / 'mlflow.db'}").search_runs(["1"])
    assert [(r.info.status, r.data.tags["ablate.error"][:26]) for r in parent] == [
        ("FAILED", "hydra/launcher=slurm: the ")
    ]
