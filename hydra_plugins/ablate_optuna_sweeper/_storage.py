"""Where a study lives and how sweepers share it: the RDB storage (a sqlite file of its own by default,
PostgreSQL for many machines), the trial budget counted over every sweeper, retries with the same
values, and the heartbeat by which a dead sweeper's trials are noticed and run again."""

from __future__ import annotations

import re
import threading
import warnings
from pathlib import Path
from typing import Any

from hydra_plugins.ablate_optuna_sweeper._settings import KEY, Settings, SettingsError


def storage_url(settings: Settings, launch_dir: Path, name: str, tracking: str | None) -> str:
    """The study's RDB URL: hydra.sweeper.storage (a relative sqlite path: from the launch dir), else
    a sqlite file of its own under <launch dir>/<storage_dir>/; never `tracking`, MLflow's database."""
    url = settings.storage
    if url is None:
        slug = re.sub(r"[^A-Za-z0-9._=-]+", "_", name).strip("_")[:120]
        url = f"sqlite:///{(launch_dir / settings.storage_dir / f'{slug}.db').resolve()}"
    else:
        from ablate.tracking.store import absolute_sqlite

        url = absolute_sqlite(url, launch_dir)
    if tracking and url == tracking:  # both keep an alembic_version table: they must not share a database
        raise SettingsError(f"{KEY}.storage: is the MLflow tracking database (allowed: any other database)")
    return url


class Retry:
    """Queue a failed trial again with the same values (Optuna's RetryHeartbeatStaleTrialCallback,
    minus the experimental warning, and without the old trial's user attributes)."""

    def __init__(self, max_retry: int | None) -> None:
        self.max_retry = max_retry

    def __call__(self, study: Any, trial: Any) -> None:
        import optuna

        history = [*trial.system_attrs.get("retry_history", []), trial.number]
        if self.max_retry is not None and len(history) > self.max_retry:
            return
        first = trial.system_attrs.get("failed_trial", trial.number)
        study.add_trial(
            optuna.create_trial(
                state=optuna.trial.TrialState.WAITING,
                params=trial.params,
                distributions=trial.distributions,
                system_attrs={"failed_trial": first, "retry_history": history},
            )
        )


def open_study(settings: Settings, url: str, name: str) -> Any:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # our own line per trial instead
    if url.startswith("sqlite:///"):
        Path(url[len("sqlite:///") :]).parent.mkdir(parents=True, exist_ok=True)
    interval = settings.heartbeat_interval or None
    with warnings.catch_warnings():  # heartbeats are 'experimental' in Optuna, and stable for years
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        storage = optuna.storages.RDBStorage(
            url,
            engine_kwargs={"connect_args": {"timeout": 60}} if url.startswith("sqlite") else None,
            heartbeat_interval=interval,
            grace_period=2 * interval if interval else None,
            heartbeat_stale_trial_callback=Retry(settings.max_retry) if interval else None,
        )
    from hydra_plugins.ablate_optuna_sweeper._settings import build_pruner, build_sampler

    return optuna.create_study(
        storage=storage,
        study_name=name,
        sampler=build_sampler(settings.sampler, settings.seed),
        pruner=build_pruner(settings.pruner),
        direction=settings.direction,
        load_if_exists=True,  # a rerun, or another machine's sweeper, joins the study
    )


def consumed(study: Any) -> int:
    """Trials that count against n_trials: finished or running (here or on another machine), except
    failed ones queued again. Queued (WAITING) ones do not count yet: the next ask() takes them first."""
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False)
    retried = {n for t in trials for n in t.system_attrs.get("retry_history", [])}
    return sum(
        1 for t in trials if t.state != TrialState.WAITING and not (t.state == TrialState.FAIL and t.number in retried)
    )


class Heartbeat:
    """While the launcher runs a batch, beat for its trials: if this process dies, another sweeper
    sharing the study sees them go stale, fails them and queues them again."""

    def __init__(self, study: Any, trials: list[Any], interval: int) -> None:
        self.storage, self.ids, self.interval = study._storage, [t._trial_id for t in trials], interval
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while True:
            for trial_id in self.ids:
                try:
                    self.storage.record_heartbeat(trial_id)
                except Exception:  # noqa: BLE001 - a missed beat is retried next interval
                    pass
            if self.stop.wait(self.interval):
                return

    def __enter__(self) -> Heartbeat:
        if self.interval:
            self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        if self.thread.is_alive():
            self.thread.join()
