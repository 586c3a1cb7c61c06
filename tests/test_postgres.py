"""A sweep into a real PostgreSQL tracking store (skipped where PostgreSQL is not installed).

The test starts its own throwaway server: initdb in a temp folder, listening on a unix socket
only (no TCP port), as the `postgres` user when the tests run as root (initdb refuses root)."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from helpers.runs import TINY
from mlflow.tracking import MlflowClient

pytestmark = pytest.mark.slow  # starts a PostgreSQL server, then a real sweep or Optuna search into it


def postgres_bin() -> Path | None:
    """The folder of initdb and postgres: on PATH, or Debian's /usr/lib/postgresql/<version>/bin."""
    found = shutil.which("initdb")
    if found and shutil.which("postgres"):
        return Path(os.path.realpath(found)).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    return Path(candidates[-1]).parent if candidates else None


@pytest.fixture
def postgres_uri():
    pytest.importorskip("psycopg", reason="the psycopg driver is not installed (pip install -e '.[test]')")
    bindir = postgres_bin()
    if bindir is None:
        pytest.skip("PostgreSQL is not installed (no initdb; .ci/run installs Debian's postgresql package)")
    user = None
    if os.geteuid() == 0:
        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no postgres user to run PostgreSQL as")
    root = Path(tempfile.mkdtemp(prefix="ablate-pg-"))
    data, sockets = root / "data", root / "run"
    sockets.mkdir()
    as_user = {}
    if user is not None:
        for path in (root, sockets):
            os.chown(path, user.pw_uid, user.pw_gid)
        as_user = {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}
    env = {**os.environ, "LC_ALL": "C"}
    subprocess.run(
        [str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"],
        check=True, capture_output=True, env=env, cwd=root, **as_user,
    )  # fmt: skip
    server = subprocess.Popen(
        [str(bindir / "postgres"), "-D", str(data), "-k", str(sockets), "-p", "5432",
         "-c", "listen_addresses=", "-c", "fsync=off", "-c", "full_page_writes=off"],
        stdout=subprocess.DEVNULL, stderr=(root / "server.log").open("w"), env=env, cwd=root, **as_user,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while not (sockets / ".s.PGSQL.5432").exists():
            assert server.poll() is None, (root / "server.log").read_text()[-2000:]
            assert time.monotonic() < deadline, "PostgreSQL did not start"
            time.sleep(0.1)
        time.sleep(0.3)  # the socket appears just before the server accepts connections
        yield f"postgresql+psycopg://postgres@/postgres?host={sockets}&port=5432"
    finally:
        server.send_signal(2)  # SIGINT: PostgreSQL's fast shutdown
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        shutil.rmtree(root, ignore_errors=True)


def test_sweep_into_a_postgresql_tracking_store(ablate_cli, launch_dir, postgres_uri):
    code, out, err = ablate_cli(
        "-m", "seed=0,1", *TINY, "data.limit=200", f"tracking.uri='{postgres_uri}'", "tracking.experiment=pg"
    )
    assert code == 0, err
    assert out.strip().splitlines()[-1].startswith("report: ")
    assert not (launch_dir / "mlflow.db").exists()

    client = MlflowClient(postgres_uri)
    exp = client.get_experiment_by_name("pg")
    assert exp.artifact_location.startswith((launch_dir / "mlartifacts").as_uri())
    runs = client.search_runs([exp.experiment_id])
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert len(parents) == 1 and len(children) == 2
    assert all(r.info.status == "FINISHED" for r in runs)
    for child in children:
        assert child.data.tags["mlflow.parentRunId"] == parents[0].info.run_id
        assert "purity_mean" in child.data.metrics
        assert [m.step for m in client.get_metric_history(child.info.run_id, "eval_loss")] == [1, 2]


def test_optuna_study_in_postgresql_beside_a_sqlite_tracking_store(ablate_cli, launch_dir, postgres_uri):
    """hydra.sweeper.storage may be any database Optuna takes: the study lives in PostgreSQL, the runs
    in the default sqlite store, and the search completes its trials and reports the best values."""
    import optuna

    code, out, err = ablate_cli(
        "-m", "hydra/sweeper=optuna", "hparams=smoke", *TINY, "data.limit=200",
        f"hydra.sweeper.storage='{postgres_uri}'", "tracking.experiment=pgopt",
    )  # fmt: skip
    assert code == 0, err
    assert not (launch_dir / "optuna").exists()  # no sqlite file of its own: the study is in PostgreSQL
    (name,) = optuna.get_all_study_names(postgres_uri)
    study = optuna.load_study(study_name=name, storage=postgres_uri)
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(complete) >= 2 and all(t.user_attrs.get("ablate:run_id") for t in complete)
    client = MlflowClient(f"sqlite:///{launch_dir / 'mlflow.db'}")
    runs = client.search_runs([client.get_experiment_by_name("pgopt").experiment_id])
    assert {t.user_attrs["ablate:run_id"] for t in complete} <= {r.info.run_id for r in runs}
    report = Path(out.strip().splitlines()[-1].split("report: ", 1)[1]).read_text()
    assert "## Hyper-parameter search (Optuna)" in report and name in report
