"""Tracking-server mode: a real `mlflow server` on loopback (sqlite backend, proxied artifacts),
a sweep logging to it through a URI with credentials that never show up anywhere, and a sweep
pointed at a server that is not there, failing in seconds with one line."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from helpers.runs import TINY
from helpers.server import free_port, serve
from mlflow.tracking import MlflowClient

FAST = [*TINY, "data.limit=200"]


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory):
    """`mlflow server` on 127.0.0.1:<free port>, stopped (its whole process group) afterwards."""
    with serve(tmp_path_factory.mktemp("server")) as server:
        yield server


def files_under(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()]


@pytest.mark.slow  # starts `mlflow server`, then a 2-job sweep and a single run through it
def test_sweep_logs_to_a_tracking_server_and_never_leaks_the_password(ablate_cli, launch_dir, mlflow_server):
    port = mlflow_server["port"]
    uri = f"http://ablate:secret@127.0.0.1:{port}"  # the server has no auth: it ignores them
    code, out, err = ablate_cli("-m", "seed=0,1", *FAST, f"tracking.uri={uri}", "tracking.experiment=srv")
    assert code == 0, err
    assert out.strip().splitlines()[-1].startswith("report: ")
    assert not (launch_dir / "mlflow.db").exists() and not (launch_dir / "mlartifacts").exists()

    client = MlflowClient(f"http://127.0.0.1:{port}")
    exp = client.get_experiment_by_name("srv")
    runs = client.search_runs([exp.experiment_id])
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert len(parents) == 1 and len(children) == 2
    assert all(r.info.status == "FINISHED" for r in runs)
    assert all(c.data.tags["mlflow.parentRunId"] == parents[0].info.run_id for c in children)
    for child in children:  # artifacts went through the server into its own store
        names = {a.path for a in client.list_artifacts(child.info.run_id)}
        assert {"config.yaml", "model.pt", "latents.npz"} <= names
        config = Path(client.download_artifacts(child.info.run_id, "config.yaml", str(launch_dir / "dl")))
        assert "secret" not in config.read_text() and f"127.0.0.1:{port}" in config.read_text()
    stored = files_under(mlflow_server["root"] / "artifacts")
    assert sum(p.name == "model.pt" for p in stored) >= 2

    # the password is nowhere: params, tags, run names, stdout, stderr, report, job logs
    assert child.data.params["tracking.uri"] == f"http://127.0.0.1:{port}"
    for run in runs:
        texts = [*run.data.params.values(), *run.data.tags.values(), run.info.run_name]
        assert not [t for t in texts if "secret" in t]
    assert "secret" not in out + err
    for path in files_under(launch_dir / "reports") + files_under(launch_dir / "multirun"):
        assert b"secret" not in path.read_bytes(), path  # logs, and Hydra's .hydra/*.yaml and multirun.yaml

    code, out, err = ablate_cli("seed=0", *FAST, f"tracking.uri={uri}", "tracking.experiment=srv")  # a single run
    assert code == 0, err
    saved = files_under(launch_dir / "outputs")
    assert any(p.name == "overrides.yaml" for p in saved) and not [p for p in saved if b"secret" in p.read_bytes()]


@pytest.mark.parametrize("mode", [["-m", "seed=0,1"], ["seed=0"]], ids=["sweep", "single"])
def test_unreachable_tracking_server_fails_in_seconds_with_one_line(ablate_cli, launch_dir, mode):
    port = free_port()  # nothing listens there
    tic = time.monotonic()
    code, out, err = ablate_cli(*mode, *FAST, f"tracking.uri=http://ablate:secret@127.0.0.1:{port}")
    assert time.monotonic() - tic < 30
    assert code != 0
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith("error: tracking"), err
    assert f"cannot reach http://127.0.0.1:{port}" in errors[0] and "Connection refused" in errors[0]
    assert "secret" not in out + err and "Traceback" not in err
    assert not (launch_dir / "mlflow.db").exists() and not list(launch_dir.glob("*/**/*.log"))
