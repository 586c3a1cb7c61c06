"""`python -m ablate [-m] key=value ...`: a thin Hydra app around ablate.job.run.run(cfg)."""

from __future__ import annotations

import os
import signal
import sys
import traceback

import hydra
from omegaconf import DictConfig

from ablate.config import ConfigError, register_configs

register_configs()

# Hydra flags that print or inspect instead of running: no preflight for them
_INSPECT = {
    "--help",
    "-h",
    "--hydra-help",
    "--version",
    "--cfg",
    "-c",
    "--info",
    "-i",
    "--resolve",
    "--shell-completion",
    "-sc",
    "--package",
    "-p",
    "--config-path",
    "-cp",
    "--config-name",
    "-cn",
    "--experimental-rerun",
}
_CONFIG_DIR = ("--config-dir", "-cd")  # a folder added to Hydra's search path: preflight sees it too


def split_args(args: list[str]) -> tuple[list[str], list[str], list[str]]:
    """(flags, overrides, --config-dir folders) of a command line (the folder is not an override;
    with an inspecting flag nothing is checked, so its values need no parsing)."""
    flags, overrides, dirs = [], [], []
    rest = iter(args)
    for arg in rest:
        if not arg.startswith("-"):
            overrides.append(arg)
            continue
        name, eq, value = arg.partition("=")
        flags.append(name)
        if name in _CONFIG_DIR:
            dirs.append(value if eq else next(rest, ""))
    return flags, overrides, dirs


def with_search_path(overrides: list[str], dirs: list[str]) -> list[str]:
    """The overrides with --config-dir folders added to hydra.searchpath, as Hydra itself adds them."""
    if not dirs:
        return overrides
    paths = [f"file://{os.path.abspath(d)}" for d in dirs]
    given = [o for o in overrides if o.split("=", 1)[0].lstrip("+") == "hydra.searchpath"]
    if given:  # hydra.searchpath=[a,b]: add ours in front
        inner = given[-1].split("=", 1)[1].strip().strip("[]")
        paths += [p for p in inner.split(",") if p.strip()]
        overrides = [o for o in overrides if o not in given]
    return [*overrides, f"hydra.searchpath=[{','.join(paths)}]"]


@hydra.main(config_path="pkg://ablate.conf", config_name="config", version_base="1.3")
def _app(cfg: DictConfig):
    """One job. A fault that shows only where the job runs (no GPU, missing files) is one line:
    a single run exits 1 with it (its runs closed FAILED first); a sweep's job returns it as a
    FAILED cell, so the sweep goes on and its report shows the hole (a job that raised would
    make Hydra's basic sweeper skip the report)."""
    from hydra.core.hydra_config import HydraConfig

    from ablate.job.contract import unfinished
    from ablate.job.run import record_failure, run
    from ablate.sweep.errors import one_line
    from ablate.tracking.store import redact, store_fault

    try:
        return run(cfg)
    except Exception as exc:  # noqa: BLE001 - every failure becomes one line
        line = store_fault(exc) or one_line(exc)
        if HydraConfig.get().mode.name == "MULTIRUN":
            job = redact(" ".join(HydraConfig.get().overrides.task))
            print(f"error: {job}: {line}", file=sys.stderr, flush=True)
            record_failure(line, traceback.format_exc())
            return unfinished("FAILED", line)
        print(f"error: {line}", file=sys.stderr, flush=True)
        raise SystemExit(1) from None


def main() -> None:
    args = sys.argv[1:]
    flags, overrides, dirs = split_args(args)
    for folder in dirs:
        if not os.path.isdir(folder):
            print(f"error: --config-dir {folder}: no such folder", file=sys.stderr)
            sys.exit(2)
    if not _INSPECT.intersection(flags):
        from ablate.sweep.preflight import preflight

        multirun = "-m" in flags or "--multirun" in flags
        dry_run = "--dry-run" in flags
        try:
            jobs = preflight(with_search_path(overrides, dirs), multirun)
        except ConfigError as exc:
            print(f"error: {exc}", file=sys.stderr)
            sys.exit(2)
        if dry_run:
            from ablate.sweep.dryrun import describe

            print(describe(jobs))
            return
        for job in jobs:  # the rest of the grid runs; these cells fail alone
            if job.reason:
                print(f"warning: {' '.join(job.overrides)}: will fail: {job.reason}", file=sys.stderr)
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    # SIGTERM (SLURM preemption, docker stop) takes the Ctrl-C path: the job marks its run KILLED
    # (its last epoch checkpoint is on disk) and the sweep's parent run is closed below.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        _app()
    except KeyboardInterrupt:
        _close_parent("KILLED")
        print("interrupted: rerun the same command to resume", file=sys.stderr)
        sys.exit(130)


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _close_parent(status: str) -> None:
    """A sweep stopped before its end callback: close its parent run instead of leaving it RUNNING."""
    from ablate.job.contract import ENV_PARENT, ENV_URI
    from ablate.tracking.store import Tracker

    if os.environ.get(ENV_PARENT) and os.environ.get(ENV_URI):
        Tracker(os.environ[ENV_URI]).end(os.environ.pop(ENV_PARENT), status)


if __name__ == "__main__":
    main()
