"""What a researcher sees: ablate's own --help, one line per job, plain progress lines when the
output is not a terminal, and a rerun that adds nothing to the store and rewrites the same report."""

from __future__ import annotations

import io
from pathlib import Path

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
