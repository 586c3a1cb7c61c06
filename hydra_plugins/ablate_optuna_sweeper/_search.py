"""One study per arm: ask the sampler for trials, launch them as jobs, tell Optuna what came back.

Arms run one after another, each to `n_trials` trials in its study (counted over every run and
machine that shares it, so a rerun only tops the study up). A job that fails, returns a non-finite
or missing objective, or is pruned is told as such and the search goes on. On an interrupt the
trials in flight are failed and re-queued with the same values: the rerun gives them the same
config, so the same fingerprint, and ablate's resume logic continues them from their checkpoints.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import logging
import math
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.utils import JobReturn, JobStatus
from omegaconf import DictConfig, OmegaConf

from hydra_plugins.ablate_optuna_sweeper._settings import Settings, SettingsError, distribution, override_value
from hydra_plugins.ablate_optuna_sweeper._storage import Heartbeat, Retry, consumed, open_study, storage_url

log = logging.getLogger(__name__)


def _key(override: str) -> str:
    return override.split("=", 1)[0].lstrip("+~")


def arms(settings: Settings, arguments: list[str]) -> tuple[list[list[str]], set[str]]:
    """Every arm's overrides (the grid of comma lists, in Hydra's order) and the swept keys."""
    parser = OverridesParser.create()
    parsed = parser.parse_overrides([f"{k}={v}" for k, v in settings.params.items()] + list(arguments))
    swept = {o.get_key_element() for o in parsed if o.is_sweep_override()}
    clash = sorted({_key(o.input_line) for o in parsed} & set(settings.space))
    if clash:
        raise SettingsError(
            f"{clash[0]}: searched by hparams (hydra.sweeper.space) and also set on the command line: "
            "drop one of the two"
        )
    return [list(job) for batch in BasicSweeper.split_arguments(parsed, None) for job in batch], swept


def study_name(settings: Settings, config: DictConfig, arm: list[str], swept: set[str], arm_config: Any) -> str:
    """<experiment>-<hparams>[arm overrides]-<hash of everything else the arm fixes>: the same command
    resumes the same studies; a changed epoch count or data size starts new ones."""
    label = [o for o in arm if _key(o) in swept]
    base = settings.study_name or f"{config.tracking.experiment}-{config.hydra.runtime.choices.get('hparams')}"
    name = base + (f"[{' '.join(label)}]" if label else "")
    if settings.study_name:
        return name
    # unresolved (Hydra's own node, e.g. hydra.job.num, exists only per job): what the user wrote
    from ablate.config import flatten
    from ablate.job.fingerprint import neutral  # keys that never change what a trial computes

    tree = OmegaConf.to_container(arm_config, resolve=False, enum_to_str=True)
    flat = flatten({k: v for k, v in tree.items() if k != "hydra"})
    kept = {k: v for k, v in flat.items() if not neutral(k) and k != "hparams" and k not in settings.space}
    kept["hydra.sweeper"] = [settings.space, settings.metric, settings.direction]  # not n_trials: a rerun tops up
    return f"{name}-{hashlib.sha256(json.dumps(kept, sort_keys=True, default=str).encode()).hexdigest()[:6]}"


def encode(spec: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(spec).encode()).decode()


def outcome(settings: Settings, ret: JobReturn) -> tuple[str, float | None, str | None, str | None]:
    """(state, value, error, run id) of a finished job."""
    if ret.status != JobStatus.COMPLETED:
        return "FAIL", None, f"{type(ret._return_value).__name__}: {ret._return_value}", None
    result = ret.return_value if isinstance(ret.return_value, dict) else {}
    run_id, status = result.get("run_id"), result.get("status")
    if status == "PRUNED":
        return "PRUNED", None, None, run_id
    if status not in ("FINISHED", "SKIPPED"):
        return "FAIL", None, str(result.get("error", status))[:500], run_id
    value = settings.objective(result.get("metrics", {}))
    if value is None:
        known = ", ".join(sorted(result.get("metrics", {})))
        return "FAIL", None, f"metric {settings.metric} not among the job's metrics ({known})", run_id
    if not math.isfinite(value):
        return "FAIL", None, f"{settings.metric} is {value}", run_id
    return "COMPLETE", value, None, run_id


@dataclass
class Tuned:
    """An arm after its search: its overrides, its run (the trials nest under it) and its study's summary."""

    arm: list[str]
    run: Any  # _runs.StudyRun
    summary: dict[str, Any]

    def values(self) -> list[str]:
        """The best trial's values, as its jobs had them."""
        return as_overrides(self.summary["best_params"])


def as_overrides(params: dict[str, Any]) -> list[str]:
    """A trial's values as a job's overrides: written once, so a tuned arm's later seeds get the
    config, so the fingerprint, its best trial's seeds had."""
    return [f"{k}={override_value(v)}" for k, v in params.items()]


def search_arms(settings: Settings, config: DictConfig, loader: Any, launcher: Any, arguments: list[str]) -> list[Any]:
    """Every arm's study to its n_trials; returns the arms' summaries (under replicates=auto: the
    search is the first round, then the tuned arms are topped up, _rounds.py; returns what each
    round launched)."""
    if OmegaConf.select(config, "replicates") == "auto":
        from hydra_plugins.ablate_optuna_sweeper._rounds import search_in_rounds

        return search_in_rounds(settings, config, loader, launcher, arguments)
    return [t.summary for t in tune(settings, config, loader, launcher, arguments)[0]]


def tune(
    settings: Settings, config: DictConfig, loader: Any, launcher: Any, arguments: list[str], extra: list[str] = ()
) -> tuple[list[Tuned], int]:
    """Each arm's study in turn, every trial with `extra` overrides added (they replace the arm's
    own for the same keys); the tuned arms and the next job's index."""
    from ablate.engine.hooks import ENV_HOOK
    from ablate.job import components
    from ablate.job.contract import ENV_PARENT, ENV_URI
    from ablate.tasks.metrics import BUILTIN
    from hydra_plugins.ablate_optuna_sweeper._runs import StudyRun

    jobs, swept = arms(settings, arguments)
    _declare_env(config, [ENV_HOOK, ENV_PARENT])
    distributions = {key: distribution(key, spec) for key, spec in settings.space.items()}
    launch_dir = Path(config.hydra.runtime.cwd)
    replaced = {_key(o) for o in extra}
    next_job = 0
    results = []
    for arm in jobs:
        arm_config = loader.load_sweep_config(config, list(arm))
        settings = dataclasses.replace(settings, declared=(*BUILTIN, *components.task_metrics(arm_config.task)))
        if settings.pruner is not None:
            settings.pruning_metric()  # preflight checked it for every arm: this cannot fail here
        name = study_name(settings, config, arm, swept, arm_config)
        url = storage_url(settings, launch_dir, name, os.environ.get(ENV_URI))
        study = open_study(settings, url, name)
        label = [o for o in arm if _key(o) in swept]
        run = StudyRun(name, url, arm, label, settings)
        log.info(f"study {name}: {consumed(study)} of {settings.n_trials} trials so far")
        job = [*(o for o in arm if _key(o) not in replaced), *extra]
        try:
            next_job = _search(settings, study, run, job, url, distributions, launcher, next_job)
        except BaseException:
            run.close(study, interrupted=True)
            raise
        results.append(Tuned(arm, run, run.close(study)))
    return results, next_job


def _declare_env(config: DictConfig, keys: list[str]) -> None:
    """Add these keys to every job's hydra.job.env_set (empty; each trial's job sets its values):
    a plain `hydra.job.env_set.KEY=` override per job then works, and Hydra leaves it out of its log."""
    from omegaconf import open_dict, read_write

    known = {line.split("=", 1)[0].lstrip("+") for line in config.hydra.overrides.hydra}
    lines = [f"++hydra.job.env_set.{key}=''" for key in keys if f"hydra.job.env_set.{key}" not in known]
    with read_write(config.hydra), open_dict(config.hydra):
        config.hydra.overrides.hydra = list(config.hydra.overrides.hydra) + lines


def _search(settings, study, run, arm, url, distributions, launcher, next_job: int) -> int:
    import optuna
    from optuna.trial import TrialState

    from ablate.engine.hooks import ENV_HOOK
    from hydra_plugins.ablate_optuna_sweeper._trial import trial_hook

    prune_metric, sign = settings.pruning_metric() if settings.pruner is not None else (None, 1.0)
    while True:
        with warnings.catch_warnings():  # 'experimental' heartbeats; 'meant for Study.optimize': we beat ourselves
            warnings.simplefilter("ignore")
            optuna.storages.fail_stale_trials(study)  # a dead sweeper's trials: failed and queued again
            todo = settings.n_trials - consumed(study)
            if todo <= 0:
                return next_job
            trials = [study.ask(distributions) for _ in range(min(settings.n_jobs, todo))]
        batch = []
        for trial in trials:
            spec = {
                "storage": url,
                "study": study.study_name,
                "trial_id": trial._trial_id,
                "number": trial.number,
                "pruner": settings.pruner,
                "metric": prune_metric,
                "sign": sign,
            }
            env = {ENV_HOOK: trial_hook(encode(spec)), **run.env()}
            env_set = (f"hydra.job.env_set.{k}='{v}'" for k, v in env.items())
            batch.append([*arm, *as_overrides(trial.params), *env_set])
        with Heartbeat(study, trials, settings.heartbeat_interval):
            try:
                returns = launcher.launch(batch, initial_job_idx=next_job)
            except BaseException:  # Ctrl-C, SIGTERM: queue the trials in flight again, same values
                for trial in trials:
                    _fail_and_requeue(study, trial)
                raise
        next_job += len(batch)
        exhausted = False
        for trial, ret in zip(trials, returns, strict=True):
            state, value, error, run_id = outcome(settings, ret)
            result = (
                ret.return_value if ret.status == JobStatus.COMPLETED and isinstance(ret.return_value, dict) else {}
            )
            run_ids = result.get("run_ids") or ([run_id] if run_id else [])  # one run per replicate
            for key, attr in (("ablate:run_id", run_id), ("ablate:run_ids", run_ids), ("ablate:error", error)):
                if attr:
                    trial.set_user_attr(key, attr)
            exhausted = _tell(study, trial, value, TrialState[state]) or exhausted
            for replicate_run in run_ids:
                run.tag_trial(replicate_run, state, value)
            best = _best(study)
            shown = f"{value:.6g}" if value is not None else (error or "")
            log.info(f"study {study.study_name}: trial {trial.number} {state} {shown} (best: {best})")
        if exhausted:  # e.g. bruteforce or grid: every point of the space was tried
            log.info(f"study {study.study_name}: the sampler has nothing left to try")
            return next_job


def _tell(study: Any, trial: Any, value: float | None, state: Any) -> bool:
    """study.tell as if inside study.optimize, where samplers that run out of points (bruteforce, grid)
    may call study.stop(); outside it that raises. True when the sampler asked to stop."""
    local, study._stop_flag = study._thread_local, False
    inside, local.in_optimize_loop = local.in_optimize_loop, True
    try:
        study.tell(trial, value, state=state)
    finally:
        local.in_optimize_loop = inside
    return bool(study._stop_flag)


def _fail_and_requeue(study: Any, trial: Any) -> None:
    from optuna.trial import TrialState

    try:
        trial.set_user_attr("ablate:error", "interrupted")
        frozen = study.tell(trial, state=TrialState.FAIL, skip_if_finished=True)
        Retry(None)(study, frozen)
    except Exception:  # noqa: BLE001 - the interrupt itself must get through
        log.warning(f"study {study.study_name}: could not queue trial {trial.number} again")


def _best(study: Any) -> str:
    try:
        best = study.best_trial
    except ValueError:
        return "none yet"
    return f"trial {best.number} = {best.value:.6g}"
