"""hydra/sweeper=optuna end to end, in-process and tiny: real Optuna studies in sqlite files of their
own, real Hydra, a real MLflow store. Arms, trials, failures, pruning, interrupts and dead sweepers."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import optuna
import pytest
from helpers.runs import TINY
from mlflow.tracking import MlflowClient
from optuna.trial import TrialState

from ablate.tracking.tags import FINGERPRINT

SEARCH = ["-m", "hydra/sweeper=optuna", "hparams=smoke", *TINY]


def _studies(launch_dir: Path) -> dict[str, optuna.Study]:
    out = {}
    for db in sorted((launch_dir / "optuna").glob("*.db")):
        for name in optuna.get_all_study_names(f"sqlite:///{db}"):
            out[name] = optuna.load_study(study_name=name, storage=f"sqlite:///{db}")
    return out


def _runs(launch_dir: Path, experiment: str) -> tuple[MlflowClient, list]:
    client = MlflowClient(f"sqlite:///{launch_dir / 'mlflow.db'}")
    return client, client.search_runs([client.get_experiment_by_name(experiment).experiment_id])


def _tree(runs: list) -> tuple[list, list, list]:
    """(sweep parents, arm runs, trial runs)."""
    ids = {r.info.run_id: r for r in runs}
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    arms = [r for r in runs if r.data.tags.get("ablate.kind") == "study"]
    trials = [r for r in runs if ids.get(r.data.tags.get("mlflow.parentRunId")) in arms]
    return parents, arms, trials


@pytest.mark.slow  # a 2-trial study, its report and a rebuild (~40 s)
def test_tiny_study_tunes_the_arm_nests_trials_and_reports_best_params(ablate_cli, launch_dir):
    code, out, err = ablate_cli(*SEARCH, "hydra.sweeper.pruner=median", "tracking.experiment=hpo")
    assert code == 0, err
    report = Path(out.strip().splitlines()[-1].split("report: ", 1)[1])

    ((name, study),) = _studies(launch_dir).items()
    assert name.startswith("hpo-smoke-")  # <experiment>-<hparams>-<hash of the fixed settings>
    trials = study.get_trials()
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 2
    assert all(1e-3 <= t.params["trainer.lr"] <= 1e-2 for t in trials)
    assert all(sorted(t.intermediate_values) == [1, 2] for t in trials)  # the pruner saw every epoch
    # Optuna's tables live in their own file, never in MLflow's database (both have alembic_version)
    with sqlite3.connect(launch_dir / "mlflow.db") as db:
        assert "trials" not in {r[0] for r in db.execute("select name from sqlite_master where type='table'")}

    client, runs = _runs(launch_dir, "hpo")
    (parent,), (arm,), trial_runs = _tree(runs)
    assert parent.info.status == arm.info.status == "FINISHED"
    assert arm.data.tags["mlflow.parentRunId"] == parent.info.run_id
    best = study.best_trial
    assert arm.data.tags["ablate.optuna.best_trial"] == str(best.number)
    assert float(arm.data.params["trainer.lr"]) == best.params["trainer.lr"]
    assert arm.data.metrics["final_eval_loss"] == pytest.approx(best.value)
    assert [h.step for h in client.get_metric_history(arm.info.run_id, "eval_loss")] == [1, 2]
    assert sorted(r.data.tags["ablate.optuna.trial"] for r in trial_runs) == ["0", "1"]
    for run in trial_runs:
        assert run.data.tags["ablate.optuna.study"] == name and run.data.tags["ablate.optuna.state"] == "COMPLETE"
        assert run.info.run_id == study.trials[int(run.data.tags["ablate.optuna.trial"])].user_attrs["ablate:run_id"]

    text = report.read_text()
    assert "## Hyper-parameter search (Optuna)" in text and "`trainer.lr`" in text and f"`{name}`" in text
    assert "jobs: 1 FINISHED" in text  # the report compares arms (their best trials), not trials
    # a rebuild from the store alone writes the same report, the search's section included
    from ablate.report.__main__ import main as rebuild

    assert rebuild(["--run-id", parent.info.run_id, "--tracking-uri", f"sqlite:///{launch_dir / 'mlflow.db'}",
                    "--out", str(launch_dir / "rebuilt")]) == 0  # fmt: skip
    assert (launch_dir / "rebuilt" / "report.md").read_text() == text


@pytest.mark.slow  # two studies, one trial each (~33 s)
def test_comma_lists_are_arms_each_with_its_own_study(ablate_cli, launch_dir):
    code, out, err = ablate_cli(
        *SEARCH, "model.skip=true,false", "hydra.sweeper.n_trials=1", "tracking.experiment=arms"
    )
    assert code == 0, err
    studies = _studies(launch_dir)
    assert len(list((launch_dir / "optuna").glob("*.db"))) == 2  # a sqlite file per study
    assert sorted(n.split("[")[1].split("]")[0] for n in studies) == ["model.skip=False", "model.skip=True"]
    assert all(len(s.trials) == 1 and s.trials[0].state == TrialState.COMPLETE for s in studies.values())

    _, runs = _runs(launch_dir, "arms")
    _, arms, trial_runs = _tree(runs)
    assert sorted(a.data.params["model.skip"] for a in arms) == ["False", "True"]
    for arm in arms:  # each trial under its own arm's run, with that arm's setting
        (mine,) = [t for t in trial_runs if t.data.tags["mlflow.parentRunId"] == arm.info.run_id]
        assert mine.data.params["model.skip"] == arm.data.params["model.skip"]
        assert mine.data.tags["ablate.optuna.study"] == arm.data.tags["ablate.optuna.study"]
    text = Path(out.strip().splitlines()[-1].split("report: ", 1)[1]).read_text()
    assert "| model.skip |" in text and "model.skip=False" in text and "model.skip=True" in text


@pytest.mark.slow  # a 2-trial study (~27 s)
def test_a_failing_trial_is_recorded_as_fail_and_the_search_goes_on(ablate_cli, launch_dir):
    # lr 1e30: Adam's first step overflows float32, so the loss is NaN on any CPU (a real divergence)
    code, out, err = ablate_cli(
        *SEARCH,
        "~hydra.sweeper.space.trainer.lr",  # a range in hparams=smoke; here two choices instead
        "+hydra.sweeper.space.trainer.lr=[1.0e30,1.0e-3]",
        "hydra.sweeper.sampler=bruteforce",  # each choice once, then the study stops by itself
        "hydra.sweeper.n_trials=5",
        "tracking.experiment=failing",
    )
    assert code == 0, err
    ((_, study),) = _studies(launch_dir).items()
    by_lr = {t.params["trainer.lr"]: t for t in study.trials}
    assert len(study.trials) == 2
    assert by_lr[1e30].state == TrialState.FAIL and "loss became nan" in by_lr[1e30].user_attrs["ablate:error"]
    assert by_lr[1e-3].state == TrialState.COMPLETE and study.best_trial.number == by_lr[1e-3].number
    _, runs = _runs(launch_dir, "failing")
    _, (arm,), trial_runs = _tree(runs)
    assert arm.info.status == "FINISHED" and float(arm.data.params["trainer.lr"]) == 1e-3
    assert sorted((r.info.status, r.data.tags["ablate.optuna.state"]) for r in trial_runs) == [
        ("FAILED", "FAIL"),
        ("FINISHED", "COMPLETE"),
    ]


@pytest.mark.slow  # two searches: interrupted, then resumed (~30 s)
def test_interrupted_search_resumes_its_trial_from_the_checkpoint(ablate_cli, launch_dir, monkeypatch):
    from ablate.engine import checkpoint

    real = checkpoint.save

    def save_then_interrupt(path, **kwargs):  # Ctrl-C right after epoch 1's checkpoint
        real(path, **kwargs)
        raise KeyboardInterrupt

    args = (*SEARCH, "hydra.sweeper.n_trials=1", "tracking.experiment=resume")
    monkeypatch.setattr(checkpoint, "save", save_then_interrupt)
    code, _, err = ablate_cli(*args)
    assert code == 130, err
    monkeypatch.setattr(checkpoint, "save", real)
    code, _, err = ablate_cli(*args)
    assert code == 0, err

    ((_, study),) = _studies(launch_dir).items()
    first, again = study.trials
    assert first.state == TrialState.FAIL and first.user_attrs["ablate:error"] == "interrupted"
    assert again.state == TrialState.COMPLETE and again.params == first.params  # queued again, same values
    client, runs = _runs(launch_dir, "resume")
    _, arms, trial_runs = _tree(runs)
    assert [a.info.status for a in arms] == ["FINISHED"]  # the rerun continued the killed arm's run
    assert [r.info.run_id for r in trial_runs] == [again.user_attrs["ablate:run_id"]]  # one trial run, reopened
    resumed = next(r for r in trial_runs if r.info.run_id == again.user_attrs["ablate:run_id"])
    assert resumed.data.tags["ablate.resumed_epoch"] == "1"  # ablate's resume logic: the same fingerprint
    assert [h.step for h in client.get_metric_history(resumed.info.run_id, "eval_loss")] == [1, 2]


def test_a_pruned_trial_is_killed_and_its_checkpoint_dropped(ablate_cli, launch_dir):
    from ablate.job import resume

    code, _, err = ablate_cli(
        *SEARCH,
        "hydra.sweeper.n_trials=1",
        "hydra.sweeper.pruner={_target_:optuna.pruners.ThresholdPruner,upper:0.0,n_warmup_steps:2}",
        "tracking.experiment=pruned",
    )
    assert code == 1 and "1 of 1 runs failed" in err  # the arm has no finished trial
    ((_, study),) = _studies(launch_dir).items()
    (trial,) = study.trials
    assert trial.state == TrialState.PRUNED and sorted(trial.intermediate_values) == [1, 2]
    _, runs = _runs(launch_dir, "pruned")
    _, (arm,), (run,) = _tree(runs)
    assert run.info.status == "KILLED" and run.data.tags["ablate.pruned"] == "2"
    assert arm.info.status == "FAILED" and "no trial" in arm.data.tags["ablate.error"]
    # epoch 1's checkpoint is gone: a rerun with the same values starts afresh, never resumes it
    fingerprint = run.data.tags[FINGERPRINT]
    assert resume.plan_offline(fingerprint, launch_dir / "checkpoints", True).action == "run"


@pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")
def test_a_dead_sweepers_trial_goes_stale_and_is_run_again(ablate_cli, launch_dir):
    """Several sweepers share a study through its storage; one that dies (kill -9, a lost node) stops
    beating for its trial, and the next sweeper fails it and runs it again with the same values."""
    storage = optuna.storages.RDBStorage(f"sqlite:///{launch_dir / 'shared.db'}", heartbeat_interval=1)
    study = optuna.create_study(storage=storage, study_name="shared")
    lost = study.ask({"trainer.lr": optuna.distributions.FloatDistribution(1e-3, 1e-2, log=True)})
    storage.record_heartbeat(lost._trial_id)
    time.sleep(2.5)  # past the grace period (2 heartbeats)

    code, _, err = ablate_cli(
        *SEARCH,
        "hydra.sweeper.n_trials=1",
        "hydra.sweeper.study_name=shared",
        "hydra.sweeper.storage=sqlite:///shared.db",  # relative: from the launch directory
        "hydra.sweeper.heartbeat_interval=1",
        "tracking.experiment=shared",
    )
    assert code == 0, err
    first, again = optuna.load_study(study_name="shared", storage=f"sqlite:///{launch_dir / 'shared.db'}").trials
    assert first.state == TrialState.FAIL and again.state == TrialState.COMPLETE
    assert again.params == lost.params and again.system_attrs["failed_trial"] == first.number


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["hparams=smoke"], "hparams: a search runs with -m"),
        (["-m", "hparams=smoke"], "(allowed: add hydra/sweeper=optuna)"),
        (["-m", "hydra/sweeper=optuna"], "no search space (allowed: hparams=optim, hparams=smoke)"),
        (["-m", "hydra/sweeper=optuna", "hparams=nope"], "hparams=nope: no such option (allowed: optim, smoke)"),
        ([*SEARCH, "hydra.sweeper.sampler=annealing"], "hydra.sweeper.sampler=annealing: unknown sampler"),
        ([*SEARCH, "hydra.sweeper.n_trials=0"], "hydra.sweeper.n_trials=0 is not allowed: it must be >= 1"),
        ([*SEARCH, "hydra.sweeper.direction=up"], "hydra.sweeper.direction=up: not allowed (allowed: minimize"),
        ([*SEARCH, "hydra.sweeper.metric="], "hydra.sweeper.metric: empty"),
        ([*SEARCH, "hydra.sweeper.pruner=median", "hydra.sweeper.metric=purity_mean"], "nothing to prune on"),
        ([*SEARCH, "trainer.lr=1e-3,1e-2"], "trainer.lr: searched by hparams"),
        ([*SEARCH, "+hydra.sweeper.space.trainer.optimizer=[adam,lbfgs]"], "the value lbfgs fails"),
        ([*SEARCH, "hydra.sweeper.space.trainer.lr.high=0.0001"], "low < high"),
        ([*SEARCH, "hydra.sweeper.storage=sqlite:///mlflow.db"], "is the MLflow tracking database"),
    ],
)
def test_preflight_checks_the_search_in_one_line(ablate_cli, launch_dir, args, message):
    code, out, err = ablate_cli(*args)
    assert code == 2 and message in err, err
    assert len(err.strip().splitlines()) == 1 and not (launch_dir / "optuna").exists()


def test_outcome_of_a_job():
    from hydra.core.utils import JobReturn, JobStatus

    from hydra_plugins.ablate_optuna_sweeper._search import outcome
    from hydra_plugins.ablate_optuna_sweeper._settings import Settings

    settings = Settings.parse(
        {
            "space": {"trainer": {"lr": {"low": 0.1, "high": 1.0}}},
            "metric": "eval_loss",
            "direction": "minimize",
            "n_trials": 1,
            "n_jobs": 1,
            "sampler": "tpe",
            "seed": None,
            "pruner": None,
            "prune_metric": None,
            "study_name": None,
            "storage": None,
            "storage_dir": "optuna",
            "heartbeat_interval": 0,
            "max_retry": 0,
        }
    )

    def job(status="FINISHED", **metrics):
        return JobReturn(
            status=JobStatus.COMPLETED, _return_value={"status": status, "run_id": "r", "metrics": metrics}
        )

    assert outcome(settings, job(final_eval_loss=2.0)) == ("COMPLETE", 2.0, None, "r")  # the final_ twin
    assert outcome(settings, job("SKIPPED", eval_loss=3.0))[:2] == ("COMPLETE", 3.0)  # a skipped job's copy
    assert outcome(settings, job(final_eval_loss=float("nan")))[:3] == ("FAIL", None, "eval_loss is nan")
    assert outcome(settings, job(purity_mean=0.5))[0] == "FAIL"
    assert outcome(settings, job("PRUNED"))[0] == "PRUNED"
    crashed = JobReturn(status=JobStatus.FAILED, _return_value=ValueError("boom"))
    assert outcome(settings, crashed)[:3] == ("FAIL", None, "ValueError: boom")


@pytest.mark.slow  # 2 trials x 2 packed replicates
def test_a_trial_with_replicates_reports_their_mean_and_the_report_counts_them(ablate_cli, launch_dir):
    code, out, err = ablate_cli(*SEARCH, "replicates=2", "tracking.experiment=hporep")
    assert code == 0, err
    ((_, study),) = _studies(launch_dir).items()
    client, runs = _runs(launch_dir, "hporep")
    by_id = {r.info.run_id: r for r in runs}
    for trial in study.trials:
        replicate_runs = [by_id[i] for i in trial.user_attrs["ablate:run_ids"]]
        assert sorted(r.data.params["seed"] for r in replicate_runs) == ["0", "1"]
        mean = sum(r.data.metrics["final_eval_loss"] for r in replicate_runs) / 2
        assert trial.value == pytest.approx(mean, rel=1e-12)  # the objective: the replicates' mean
    (parent,) = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    beside = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert sorted(r.data.tags["ablate.kind"] for r in beside) == ["study", "study-replicate"]
    assert sorted(r.data.params["seed"] for r in beside) == ["0", "1"]
    text = Path(out.strip().splitlines()[-1].split("report: ", 1)[1]).read_text()
    assert "replicates: training seeds `seed` (0, 1)" in text
