"""Faults around the happy path, injected for real (no patching): a missing GPU or data files, a
file where a folder must be, a read-only launch directory, a corrupt store or checkpoint, a
malformed named sweep, two identical sweeps at once, a tracking server killed mid-sweep. Each
asserts the one line, the exit code (the same in single and `-m` mode) and the store afterwards:
no run left RUNNING."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from helpers.runs import TINY
from helpers.server import serve

from ablate import config


def statuses(db: Path) -> dict[str, int]:
    with sqlite3.connect(db) as con:
        return dict(con.execute("select status, count(*) from runs group by status").fetchall())


def error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("error: ")]


RUN_TIME = [  # faults that only show where the job runs: one line, exit 1, runs closed FAILED
    (["data=mnist", "data.root=nowhere"], "mnist: missing train-images-idx3-ubyte"),
    (["data=mnist", "data.root=afile"], "mnist"),
]
if not torch.cuda.is_available():
    RUN_TIME.append((["trainer.device=cuda"], "trainer.device=cuda but no CUDA device is visible"))


@pytest.mark.parametrize("args,line", RUN_TIME, ids=[" ".join(c[0]) for c in RUN_TIME])
def test_a_run_time_fault_is_one_line_and_closes_its_runs(ablate_cli, launch_dir, args, line):
    (launch_dir / "afile").write_text("not a folder\n")
    code, _, err = ablate_cli(*TINY, *args)
    assert code == 1 and "Traceback" not in err, err
    assert len(error_lines(err)) == 1 and line in error_lines(err)[0], err
    assert set(statuses(launch_dir / "mlflow.db")) == {"FAILED"}


@pytest.mark.slow  # a 2-cell sweep, one cell training (~20 s)
@pytest.mark.parametrize("args,line", RUN_TIME[:1], ids=["data=mnist missing"])
def test_a_sweep_with_a_failing_cell_reports_the_hole_and_exits_1(ablate_cli, launch_dir, args, line):
    grid = [f"{args[0]},mnist5k" if args[0].startswith("data=") else args[0], *args[1:]]
    code, out, err = ablate_cli("-m", *TINY, "data.limit=200", *grid)
    assert code == 1 and "Traceback" not in err, err
    failed = [x for x in out.splitlines() if x.startswith("job data=mnist: seed 0 failed: ")]
    assert len(failed) == 1 and line in failed[0], out  # the cell, named, with its reason
    assert "1 of 2 runs failed (see the report)" in err
    report = Path(out.strip().splitlines()[-1].split("report: ", 1)[1])
    assert "FAILED" in report.read_text() and line in report.read_text()
    assert statuses(launch_dir / "mlflow.db") == {"FAILED": 2, "FINISHED": 1}  # the parent: FAILED


@pytest.mark.parametrize("multirun", [False, True], ids=["run", "multirun"])
@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_a_corrupt_store_is_one_line_before_anything_runs(ablate_cli, launch_dir, multirun, damage):
    db = launch_dir / "mlflow.db"
    if damage == "garbage":
        db.write_bytes(os.urandom(4096))
    else:  # a real store cut short
        with sqlite3.connect(db) as con:
            con.executescript("create table t(x); " + "insert into t values (randomblob(900));" * 200)
        db.write_bytes(db.read_bytes()[: 64 * 1024])
    before = db.read_bytes()
    code, _, err = ablate_cli(*(["-m", "model.skip=true,false"] if multirun else []), *TINY)
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert err.startswith("error: tracking.uri: cannot reach sqlite:///") and str(db) in err
    assert db.read_bytes() == before and sorted(p.name for p in launch_dir.iterdir()) == ["mlflow.db"]


def test_a_read_only_launch_directory_is_one_line(ablate_cli, launch_dir):
    locked = launch_dir / "ro"
    locked.mkdir()
    if subprocess.run(["chattr", "+i", str(locked)], capture_output=True).returncode != 0:
        pytest.skip("chattr +i is not available here (needs root and a filesystem that supports it)")
    try:
        os.chdir(locked)
        for extra in ([], ["-m", "model.skip=true,false"]):
            code, _, err = ablate_cli(*extra, *TINY)
            assert code == 2 and len(err.strip().splitlines()) == 1, err
            assert f"cannot write in {locked}" in err
        assert list(locked.iterdir()) == []
    finally:
        subprocess.run(["chattr", "-i", str(locked)], check=True)


def test_a_malformed_named_sweep_is_named_with_its_line_and_fails_only_its_commands(ablate_cli, tmp_path):
    folder = tmp_path / "sweeps"
    folder.mkdir()
    (folder / "fine.yaml").write_text("replicates: 2\n")
    (folder / "broken.yaml").write_text("replicates: 2\nhydra:\n  sweeper: [unclosed\n")
    try:
        assert set(config.load_sweeps(folder)) == {"fine"}
        assert config.BROKEN_SWEEPS["broken"].startswith("sweeps/broken.yaml line ")
        code, _, err = ablate_cli("-m", "sweep=broken", "--dry-run")
        assert code == 2 and err.startswith("error: sweeps/broken.yaml line ") and len(err.splitlines()) == 1
        assert ablate_cli("--dry-run", *TINY)[0] == 0  # a command that does not use it runs
    finally:
        config.BROKEN_SWEEPS.pop("broken", None)


@pytest.mark.slow  # a killed job, then its rerun (~30 s)
def test_a_truncated_checkpoint_is_set_aside_and_its_replicate_retrains(ablate_cli, launch_dir):
    args = [*TINY, "trainer.epochs=12", "data.limit=200"]
    proc = subprocess.Popen([sys.executable, "-m", "ablate", *args], cwd=launch_dir,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.time() + 120
    while time.time() < deadline and not list(launch_dir.glob("checkpoints/*/last.pt")):
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    [ckpt] = list(launch_dir.glob("checkpoints/*/last.pt"))
    ckpt.write_bytes(ckpt.read_bytes()[:100])  # cut short, as a full disk or a crashed copy leaves it
    code, _, err = ablate_cli(*args)
    assert code == 0, err
    assert "warning: checkpoint" in err and "is unreadable" in err and "training from scratch" in err, err
    assert len(list((launch_dir / "checkpoints" / "corrupt").glob(f"{ckpt.parent.name}-*-last.pt"))) == 1
    assert statuses(launch_dir / "mlflow.db") == {"FINISHED": 1}  # the killed run, reopened and finished


@pytest.mark.slow  # two sweeps at once (~40 s)
def test_two_identical_sweeps_at_once_train_each_replicate_once(launch_dir):
    args = [sys.executable, "-m", "ablate", "-m", "model.skip=true,false", *TINY, "replicates=2", "data.limit=200"]
    procs = [subprocess.Popen(args, cwd=launch_dir, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]  # fmt: skip
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [o[1][-2000:] for o in outs]
    with sqlite3.connect(launch_dir / "mlflow.db") as con:
        children = con.execute("select count(*) from tags where key = 'mlflow.parentRunId'").fetchone()[0]
    assert statuses(launch_dir / "mlflow.db") == {"FINISHED": 6}  # 4 replicates trained once + 2 parents
    assert children == 4
    assert sum(o[0].count("report: ") for o in outs) == 2  # each sweep has its report


@pytest.mark.slow  # a server, a sweep, a kill (~30 s)
def test_a_tracking_server_killed_mid_sweep_is_one_line_per_job_and_says_how_to_rebuild(tmp_path_factory, launch_dir):
    with serve(tmp_path_factory.mktemp("srv")) as server:
        uri = f"http://127.0.0.1:{server['port']}"
        args = [sys.executable, "-m", "ablate", "-m", "model.skip=true,false", *TINY, "trainer.epochs=30",
                "data.limit=200", f"tracking.uri={uri}", "tracking.experiment=k"]  # fmt: skip
        proc = subprocess.Popen(args, cwd=launch_dir, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 120
        while time.time() < deadline and not list(launch_dir.glob("checkpoints/*/last.pt")):
            time.sleep(0.05)
        os.killpg(server["pid"], signal.SIGKILL)
        out, err = proc.communicate(timeout=300)
    assert proc.returncode == 1 and "Traceback" not in err, err[-3000:]
    lines = error_lines(err)
    assert lines and all("the tracking store failed" in line for line in lines), err[-3000:]
    assert "rebuild it: python -m ablate.report --run-id " in lines[-1]
