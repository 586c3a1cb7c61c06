"""`python -m ablate [-m] key=value ...`: a thin Hydra app around ablate.run.run(cfg)."""

from __future__ import annotations

import os
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
        overrides = [a for a in args if not a.startswith("-")]
        try:
            preflight(overrides, multirun)
        except ConfigError as exc:
            print(f"error: {exc}", file=sys.stderr)
            sys.exit(2)
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    _app()


if __name__ == "__main__":
    main()
