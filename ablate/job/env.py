"""What Hydra tells a job about where it runs, and the files Hydra saved for it.

Read once at the top of `ablate.job.run.run`. Below it only ablate/job/resources.py asks Hydra (for the
launcher's settings and the job number, when it gives the job its GPU and threads).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from ablate.util.redaction import redact_files


@dataclass
class Where:
    launch_dir: Path  # where the command started: relative paths of the config resolve here
    out_dir: Path  # the job's own output folder
    overrides: list[str] = field(default_factory=list)  # the job's own command-line overrides
    multirun: bool = False


def hydra_job() -> Where:
    """The running Hydra job's folders and overrides (a plain call outside Hydra: ./outputs/adhoc)."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    if not HydraConfig.initialized():
        return Where(Path.cwd(), Path.cwd() / "outputs" / "adhoc")
    hc = HydraConfig.get()
    return Where(
        Path(hc.runtime.cwd),
        Path(hc.runtime.output_dir),
        list(hc.overrides.task),
        hc.mode == RunMode.MULTIRUN,
    )


def redact_saved_config(where: Where) -> None:
    """Hydra saves every override, a tracking.uri's password included, in the job's .hydra/*.yaml
    and the sweep's multirun.yaml before the job starts: rewrite them without it."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return
    hc = HydraConfig.get()
    names = ("config.yaml", "hydra.yaml", "overrides.yaml")
    saved = [] if hc.output_subdir is None else [where.out_dir / hc.output_subdir / name for name in names]
    if where.multirun:
        saved.append(where.launch_dir / hc.sweep.dir / "multirun.yaml")
    redact_files(saved)


def plain_config(cfg: DictConfig) -> DictConfig:
    """The job's config without Hydra's own node: what is logged and saved."""
    return OmegaConf.masked_copy(cfg, [k for k in cfg if k != "hydra"])
