"""`--dry-run`: the jobs a command would launch, which it would skip, and an estimate from the
earlier runs of the same data, task and model settings; it writes nothing."""

from __future__ import annotations

import re

import pytest
from helpers.runs import TINY


@pytest.mark.slow
def test_dry_run_then_run_then_dry_run_again(ablate_cli, launch_dir):
    code, out, err = ablate_cli("-m", "--dry-run", "model.skip=true,false", *TINY)
    assert code == 0, err
    # no earlier run: the built-in calibration (300 images x 80% x 784 pixels x 2 epochs, + 5 s per job)
    last = out.strip().splitlines()[-1]
    assert re.fullmatch(r"2 jobs, 0 skipped; estimated 0\.\d min \(2 job\(s\) from the built-in 2-core CPU "
                        r"calibration: no earlier run to learn from\)", last), last  # fmt: skip
    assert " 0.0 min" not in last
    assert not (launch_dir / "mlflow.db").exists() and not (launch_dir / "multirun").exists()

    code, _, err = ablate_cli("-m", "model.skip=true,false", *TINY)
    assert code == 0, err

    # a larger grid: the two finished cells are skipped; the new ones are estimated from them (the
    # model settings every job shares match, the varied switches do not have to)
    code, out, err = ablate_cli("-m", "--dry-run", "model.skip=true,false", "model.bottleneck=true,false", *TINY)
    assert code == 0, err
    lines = out.strip().splitlines()
    assert sum(" skip " in line for line in lines) == 2
    new = [line for line in lines if re.match(r"#\d+\s+run\s", line)]
    assert len(new) == 2 and all(re.search(r"\s\d+s\s", line) for line in new), lines
    assert lines[-1].startswith("4 jobs, 2 skipped; estimated ") and "calibration" not in lines[-1]


def test_dry_run_of_a_design_in_rounds_lists_its_arms_and_round_one(ablate_cli, launch_dir):
    args = ["-m", "--dry-run", "sweep=unet_components", "design=fractional"]
    code, out, err = ablate_cli(*args)
    assert code == 0, err
    lines = out.strip().splitlines()
    assert len([line for line in lines if re.match(r"#\d+\s+run\s", line)]) == 8  # 8 of the grid's 16 arms
    assert "model.skip=True model.bottleneck=True trainer.optimizer=adam model.middle=16" in lines[0]
    assert lines[-1].startswith("8 jobs, 0 skipped") and "replicates=auto: round 1 only" in lines[-1]
    assert list(launch_dir.iterdir()) == []  # nothing written
