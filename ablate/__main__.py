"""`python -m ablate [-m] key=value ...`: a thin Hydra app around ablate.run.run(cfg)."""

from __future__ import annotations

import os
import signal
import sys

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
    "--config-dir",
    "-cd",
    "--experimental-rerun",
}


@hydra.main(config_path="pkg://ablate.conf", config_name="config", version_base="1.3")
def _app(cfg: DictConfig):
    from ablate.run import run

    return run(cfg)


def main() -> None:
    args = sys.argv[1:]
    if not _INSPECT.intersection(a.split("=")[0] for a in args):
        from ablate.preflight import preflight

        multirun = "-m" in args or "--multirun" in args
        dry_run = "--dry-run" in args
        overrides = [a for a in args if not a.startswith("-")]
        try:
            jobs = preflight(overrides, multirun)
        except ConfigError as exc:
            print(f"error: {exc}", file=sys.stderr)
            sys.exit(2)
        if dry_run:
            from ablate.dryrun import describe

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
    from ablate.tracking import ENV_PARENT, ENV_URI, Tracker

    if os.environ.get(ENV_PARENT) and os.environ.get(ENV_URI):
        Tracker(os.environ[ENV_URI]).end(os.environ.pop(ENV_PARENT), status)


if __name__ == "__main__":
    main()
