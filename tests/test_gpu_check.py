"""The GPU check (benchmarks/gpu.py) in its CPU mode, as CI runs it so that it cannot rot, and the
offline install it depends on: ablate from a wheelhouse onto a node that has only its own stack.

Without a CUDA device the check runs shrunk on the CPU and its report says the GPU figures are
not yet measured; on a GPU these tests run the same code at full size only through the script."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import torch
from helpers.node import fresh_wheelhouse, node_python
from helpers.wheel import REPO

from benchmarks import gpu

STAGES = ["tests", "step", "packing", "kmeans", "kmeans", "sweeps"]


def test_a_stage_stopped_at_its_cap_is_reported_and_the_check_goes_on(tmp_path, monkeypatch):
    monkeypatch.setattr(gpu, "SMOKE_CAP", 0.05)  # nothing can start a Python with torch in 50 ms
    monkeypatch.setattr(gpu, "PLAN", [p for p in gpu.PLAN if p[0] in ("step", "sweeps")])
    assert gpu.main(["--smoke", "--out", str(tmp_path)]) == 0
    result = json.loads((tmp_path / "benchmarks_gpu.json").read_text())
    step, sweeps = result["stages"]
    assert step["rc"] is None and sweeps["sweeps"]["quick start"]["rc"] is None
    text = (tmp_path / "benchmarks_gpu.md").read_text()
    assert "Stopped at its time cap after" in text and "| quick start |" in text and "stopped at the cap" in text


@pytest.mark.slow  # a fresh venv, an offline install and every stage of the check (~1 min)
def test_the_check_installs_offline_from_a_wheelhouse_and_runs_every_stage(tmp_path):
    built = Path(os.environ.get("ABLATE_WHEELHOUSE", REPO / ".wheelhouse"))
    if not list(built.glob("ablate-*.whl")):
        pytest.skip(f"no wheelhouse in {built}: python tools/wheelhouse.py {built} (.ci/run builds it)")
    python = node_python(tmp_path)
    lacks = subprocess.run([python, "-c", "import torch, sklearn; import mlflow"], capture_output=True, text=True)
    assert "No module named 'mlflow'" in lacks.stderr  # the node has its stack, not ablate's
    env = {**os.environ, "PYTHON": str(python), "PIP_NO_INDEX": "1", "PYTHONPATH": ""}
    script = [str(REPO / "benchmarks" / "gpu_check.sh"), str(fresh_wheelhouse(built, tmp_path)), str(tmp_path / "out")]
    done = subprocess.run(script, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    where = subprocess.run([python, "-c", "import ablate.conf; print(ablate.conf.__file__)"], cwd=tmp_path,
                           capture_output=True, text=True, check=True)  # fmt: skip
    assert where.stdout.startswith(str(tmp_path / "node"))  # installed into the node, configs inside
    result = json.loads((tmp_path / "out" / "benchmarks_gpu.json").read_text())
    assert [s["stage"] for s in result["stages"]] == STAGES
    assert not [s for s in result["stages"] if "error" in s or s.get("rc") not in (0, None) and s["stage"] != "tests"]
    tests = result["stages"][0]
    assert tests["rc"] in (0, 5) and tests["failures"] == tests["errors"] == 0 and tests["tests"] >= 6
    assert result["stages"][-1]["sweeps"]["quick start"]["rc"] == 0
    text = (tmp_path / "out" / "benchmarks_gpu.md").read_text()
    assert ("On a GPU: not yet measured" in text) == (not torch.cuda.is_available())
    rows = result["stages"][2]["rows"]  # each precision: R = 1, 2
    assert [(r["precision"], r["replicates"]) for r in rows] == [("fp32", 1), ("fp32", 2), ("bf16", 1), ("bf16", 2)]


def test_an_output_folder_that_cannot_be_made_is_one_line(tmp_path, capsys):
    (tmp_path / "file").write_text("")
    with pytest.raises(SystemExit) as stop:
        gpu.main(["--smoke", "--out", str(tmp_path / "file" / "out")])
    assert stop.value.code == 2
    line = capsys.readouterr().err.splitlines()[-1]  # argparse's "<prog>: error: ..."
    out = tmp_path / "file" / "out"
    assert line.endswith(f"error: --out {out}: cannot create it (Not a directory; allowed: a writable folder)")
