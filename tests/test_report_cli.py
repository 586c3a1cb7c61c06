"""`python -m ablate.report`: picks a sweep by experiment or run id, honours MLFLOW_TRACKING_URI,
fails with one line and exit code 2."""

from __future__ import annotations

import pytest
from helpers.store import fresh_store, log_sweep
from test_report_golden import article_jobs

from ablate.report import write_report
from ablate.report.__main__ import main


@pytest.fixture
def store(tmp_path_factory, tmp_path):
    return fresh_store(tmp_path_factory, tmp_path)


def test_help_documents_the_arguments(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for arg in ("--experiment", "--run-id", "--out", "--tracking-uri", "MLFLOW_TRACKING_URI"):
        assert arg in out


def test_experiment_name_picks_the_latest_sweep(store, tmp_path, monkeypatch, capsys):
    jobs = article_jobs(seeds=(0,))[:2]
    log_sweep(store, "study", ["model.skip", "model.bottleneck"], jobs, {}, tmp_path)
    latest, _ = log_sweep(store, "study", ["model.skip", "model.bottleneck"], jobs, {}, tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store.uri)
    assert main(["study"]) == 0
    path = tmp_path / "reports" / f"study-{latest[:8]}" / "report.md"
    assert capsys.readouterr().out.strip().splitlines()[-1] == f"report: {path.relative_to(tmp_path)}"
    assert latest in path.read_text()
    # the default store is ./mlflow.db in the current folder (where fresh_store put it)
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    assert main(["--experiment", "study", "--out", "again"]) == 0
    assert (tmp_path / "again" / "report.md").read_bytes() == path.read_bytes()
    assert main([latest, "--out", "by_id"]) == 0
    assert (tmp_path / "by_id" / "report.md").read_bytes() == path.read_bytes()


def test_default_folder_is_the_sweeps_report_dir(store, tmp_path, monkeypatch, capsys):
    jobs = article_jobs(seeds=(0,))[:2]
    for job in jobs:  # as run.py logs the job's whole config, tracking.report_dir included
        job["params"]["tracking.report_dir"] = "elsewhere"
    parent, _ = log_sweep(store, "study", ["model.skip", "model.bottleneck"], jobs, {}, tmp_path)
    monkeypatch.chdir(tmp_path)
    assert main(["study", "--tracking-uri", store.uri]) == 0
    path = tmp_path / "elsewhere" / f"study-{parent[:8]}" / "report.md"
    assert capsys.readouterr().out.strip().splitlines()[-1] == f"report: {path.relative_to(tmp_path)}"
    assert path.is_file() and not (tmp_path / "reports").exists()


def _fails(args: list[str], capsys, *words: str) -> None:
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("error: "), err
    for word in words:
        assert word in err, err


def test_errors_are_one_line_and_exit_2(store, tmp_path, capsys):
    uri = ["--tracking-uri", store.uri]
    _fails(["x", "--tracking-uri", str(tmp_path / "nowhere.db")], capsys, "no tracking store")
    _fails(["nope", *uri], capsys, "no experiment named 'nope'")
    _fails(["--run-id", "0" * 32, *uri], capsys, "no run")
    _fails(uri, capsys, "--run-id")
    store.experiment("empty", None)
    _fails(["empty", *uri], capsys, "has no sweep")
    parent, _ = log_sweep(store, "s", ["model.skip"], article_jobs(seeds=(0,))[:1], {}, tmp_path)
    (tmp_path / "file").write_text("")
    _fails(["--run-id", parent, "--out", str(tmp_path / "file" / "r"), *uri], capsys, "cannot write")


def test_credentials_stay_out_of_the_report(store, tmp_path):
    command = "python -m ablate -m model.skip=true,false tracking.uri=http://bob:secret@host:5000"
    parent, _ = log_sweep(store, "s", ["model.skip"], article_jobs(seeds=(0,))[:2], {}, tmp_path, command)
    path = write_report(store, parent, tmp_path / "r")
    for file in ("report.md", "results.json", "results.csv"):
        assert "secret" not in (path.parent / file).read_text(), file
    assert "tracking.uri=http://host:5000`" in path.read_text()
