"""Jobs that run side by side: one GPU each, or a fair share of the CPU threads.

`python -m ablate -m hydra/launcher=parallel ...` runs `hydra.launcher.n_jobs` jobs at once in
joblib (loky) worker processes. Each job calls `assign_resources` before anything touches CUDA:

- several GPUs visible: the job takes one, `job number % number of GPUs`, through
  CUDA_VISIBLE_DEVICES (a list the user or SLURM already set is honoured: the job picks from it);
- on the CPU: torch gets `cpus // concurrent jobs` threads (at least 1), unless `trainer.threads`
  says otherwise.

The sweep's parent process hands the tracking store and parent run to every job through
environment variables; `forward_env` also writes them into each job's `hydra.job.env_set`, so a
worker process that outlived an earlier sweep (joblib reuses its workers) still sees this one's.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from typing import Any

ENV_N_JOBS = "ABLATE_N_JOBS"  # concurrent jobs, for launchers ablate does not know
ENV_GPUS = "ABLATE_VISIBLE_GPUS"  # the GPUs a worker could see before a job narrowed them to one


def gpu_ids() -> list[str]:
    """The GPUs this process may use, without initialising CUDA: CUDA_VISIBLE_DEVICES when set
    (by the user, SLURM or an earlier job in this worker), else the ones `nvidia-smi -L` lists."""
    if ENV_GPUS in os.environ:
        return [g for g in os.environ[ENV_GPUS].split(",") if g.strip()]
    if "CUDA_VISIBLE_DEVICES" in os.environ:
        return [g for g in os.environ["CUDA_VISIBLE_DEVICES"].split(",") if g.strip() and g.strip() != "-1"]
    return [str(i) for i in range(_count_gpus())]


def _count_gpus() -> int:
    smi = shutil.which("nvidia-smi")
    if smi:
        try:
            out = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=20, check=False).stdout
            return sum(line.startswith("GPU ") for line in out.splitlines())
        except (OSError, subprocess.SubprocessError):
            pass
    try:  # NVML through ctypes: counts devices without creating a CUDA context
        import torch

        return max(0, int(torch.cuda._raw_device_count_nvml()))
    except Exception:  # noqa: BLE001 - no driver, no NVML: no GPUs
        return 0


def concurrent_jobs(launcher: Any = None) -> int:
    """How many jobs of the sweep run at once on this machine: the joblib launcher's n_jobs
    (-1: one per CPU), $ABLATE_N_JOBS for other launchers, else 1."""
    if launcher is None:
        launcher = _launcher_config()
    n = None
    if launcher is not None and "joblib" in str(launcher.get("_target_", "")).lower():
        n = launcher.get("n_jobs")
    if n is None and os.environ.get(ENV_N_JOBS):
        n = os.environ[ENV_N_JOBS]
    n = int(n) if n is not None else 1
    cpus = _cpu_count()
    return max(1, cpus + 1 + n if n < 0 else n)  # joblib: -1 is every CPU, -2 all but one


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))  # what SLURM or taskset gave this process
    except AttributeError:
        return os.cpu_count() or 1


def _launcher_config() -> Any:
    from hydra.core.hydra_config import HydraConfig

    return HydraConfig.get().launcher if HydraConfig.initialized() else None


def _job_num() -> int:
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return 0
    from omegaconf import OmegaConf

    return int(OmegaConf.select(HydraConfig.get(), "job.num", default=0) or 0)  # unset outside a launcher


def assign_resources(threads: int | None = None) -> dict[str, str]:
    """Give this job its GPU and CPU threads; call it before CUDA initialises. Returns what it
    chose, as tags for the job's run: ablate.concurrent_jobs, ablate.threads, and ablate.gpu when
    it picked one of several GPUs for a job running beside others."""
    import torch

    launcher = _launcher_config()
    jobs = concurrent_jobs(launcher)
    chosen: dict[str, str] = {"ablate.concurrent_jobs": str(jobs)}

    gpus = gpu_ids() if jobs > 1 else []
    if len(gpus) > 1:
        if torch.cuda.is_initialized():  # a reused worker keeps the GPU its first job chose
            chosen["ablate.gpu"] = os.environ.get("CUDA_VISIBLE_DEVICES", "")
        else:
            os.environ.setdefault(ENV_GPUS, ",".join(gpus))
            os.environ["CUDA_VISIBLE_DEVICES"] = chosen["ablate.gpu"] = gpus[_job_num() % len(gpus)]

    if threads:
        torch.set_num_threads(threads)
    else:
        per_job = launcher.get("cpus_per_task") if launcher is not None else None  # submitit
        if per_job:
            torch.set_num_threads(int(per_job))
        elif jobs > 1:
            torch.set_num_threads(max(1, _cpu_count() // jobs))
    chosen["ablate.threads"] = str(torch.get_num_threads())
    return chosen


def forward_env(config: Any, env: dict[str, str]) -> None:
    """Give every job of a sweep these environment variables: the parent's master config is
    re-composed for each job from its hydra overrides, so `++hydra.job.env_set.KEY=value` added
    there reaches every launcher's jobs (in-process, joblib workers, submitit). A value holding
    credentials is not written into the overrides (they are saved with each job's .hydra/), nor one
    the override grammar would alter (quotes, backslashes, $): such jobs rely on the environment
    they inherit, which is right for every worker process started for this sweep."""
    from omegaconf import open_dict, read_write

    from ablate.tracking.store import redact

    lines = [
        f"++hydra.job.env_set.{key}='{value}'"
        for key, value in env.items()
        if redact(value) == value and not any(c in value for c in "'\\$")
    ]
    with read_write(config.hydra), open_dict(config.hydra):
        config.hydra.overrides.hydra = list(config.hydra.overrides.hydra) + lines
