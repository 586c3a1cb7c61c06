"""What a researcher sees: ablate's own --help, one line per job, plain progress lines when the
output is not a terminal, and a rerun that adds nothing to the store and rewrites the same report."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest
from helpers.runs import TINY
from mlflow.tracking import MlflowClient

from ablate.engine.progress import Progress


def test_help_is_ablates_own(ablate_cli):
    code, out, _ = ablate_cli("--help")
    assert code == 0
    assert out.startswith("ablate: ablation studies")
    for needed in ("python -m ablate -m model.skip=true,false model.bottleneck=true,false", "--dry-run",
                   "sweep=article_purity", "python -m ablate.report", "replicates=[3]", "trainer.epochs=[4]",
                   "sweep: article_autoencode"):  # fmt: skip
        assert needed in out, needed
    assert "powered by Hydra" not in out


def test_progress_off_a_terminal_is_a_few_plain_lines():
    stream = io.StringIO()  # not a terminal
    bar = Progress("skip=True seed=0", 1, 50, stream=stream)
    for epoch in range(1, 51):
        bar.update(epoch, train=1.0 / epoch, eval=2.0 / epoch)
    bar.close()
    lines = stream.getvalue().splitlines()
    assert "\r" not in stream.getvalue()
    assert len(lines) == 5 and lines[-1] == "skip=True seed=0: epoch 50/50 train 0.02 eval 0.04"


def _store(launch_dir: Path) -> list:
    client = MlflowClient(f"sqlite:///{launch_dir / 'mlflow.db'}")
    return sorted(r.info.run_id for r in client.search_runs([client.get_experiment_by_name("quiet").experiment_id]))


def _files(folder: Path) -> dict:
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_rerun_adds_no_run_and_writes_the_same_report(ablate_cli, launch_dir):
    args = ["-m", "model.skip=true,false", *[a for a in TINY if a != "trainer.progress=false"], "data.limit=200",
            "tracking.experiment=quiet"]  # fmt: skip
    code, out, err = ablate_cli(*args)
    assert code == 0, err
    assert "\r" not in out + err  # captured output is no terminal: plain lines, no bars
    assert "job skip=True: start (seed 0, 2 epochs)" in out and "job skip=False: seed 0 trained (" in out
    lines = out.strip().splitlines()
    assert lines[-1].startswith("report: ") and any(line.startswith("arm ") for line in lines)
    assert "skip=True seed=0: epoch 2/2 train " in err or "skip=True: epoch 2/2 train " in err
    runs, report = _store(launch_dir), Path(lines[-1].split("report: ", 1)[1])
    first = _files(report.parent)

    code, out, err = ablate_cli(*args)
    assert code == 0, err
    assert out.count("skipped: reusing run ") == 2 and " trained " not in out
    assert _store(launch_dir) == runs  # the same parent, the same runs: nothing new
    assert out.strip().splitlines()[-1] == f"report: {report}"
    assert _files(report.parent) == first  # byte for byte


@pytest.mark.slow  # two real commands in fresh processes (~25 s)
def test_no_mlflow_info_line_reaches_the_console_on_a_run_or_a_fault(tmp_path):
    """A fresh process and a fresh store (where MLflow logs "Creating initial MLflow database
    tables..." at INFO): a fault prints its one line alone, a sweep prints ablate's lines only."""

    def ablate(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "ablate", *args], cwd=tmp_path, capture_output=True, text=True)

    fault = ablate(*TINY, "data=mnist", "data.root=nowhere", "tracking.experiment=fault")
    assert fault.returncode == 1
    assert fault.stderr.splitlines() == [next(x for x in fault.stderr.splitlines() if x.startswith("error: mnist"))]
    (line,) = fault.stdout.splitlines()  # the job's start line alone
    assert line.startswith("job ") and line.endswith("data=mnist: start (seed 0, 2 epochs)"), fault.stdout
    (tmp_path / "mlflow.db").unlink()  # a fresh store again
    run = ablate("-m", "model.skip=true,false", *TINY, "tracking.experiment=run")
    assert run.returncode == 0, run.stderr
    assert "INFO" not in run.stdout + run.stderr and "mlflow.store" not in run.stdout + run.stderr
