"""Hydra's submitit launcher, made to finish a sweep whatever happens to its jobs.

Upstream collects `[j.results()[0] for j in jobs]`: the first job that `scancel`, a time limit or
a dead node stops raises, the sweep aborts before its end callback (no report, the parent run left
RUNNING), and submitit's worker ignores SIGTERM, so the stopped job's own runs stay RUNNING too.
Here:

- in the job (`__call__`, on the node): SIGUSR2 (submitit asks Slurm for it `signal_delay_s`
  before the time limit) and SIGTERM (`scancel`, the time limit, preemption) interrupt training
  the way Ctrl-C does locally: the runs are closed KILLED, their last epoch checkpoint stays on
  disk, and the cell answers KILLED instead of raising. The job's log file is named on its runs.
- in the sweep's process (`launch`): every job is waited for; one that never answered (cancelled,
  out of time, its node lost, a failure outside ablate's own handling) has its cell's runs closed
  from here (`ablate.job.contract.close_cell`), with its Slurm state, its log file and, when Python
  failed, the traceback as a run artifact. The sweep goes on to its report, which shows the hole,
  and the command exits 1 naming the cells. Rerunning the command resumes only those cells.
- Ctrl-C while waiting cancels the sweep's jobs (each closes its runs KILLED), as it stops a
  local sweep.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, JobStatus, filter_overrides
from hydra_plugins.hydra_submitit_launcher import submitit_launcher as upstream
from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf
from omegaconf import OmegaConf

log = logging.getLogger(__name__)

# how long a job the scheduler no longer lists may still deliver its result (a slow shared
# filesystem, accounting catching up) before its cell counts as lost
GRACE_S = 30
GONE = "gone (no longer listed by the scheduler)"  # a lost job's state, as the sweep says it

_WHY = {
    signal.SIGUSR2: "stopped near its time limit (SIGUSR2)",
    signal.SIGTERM: "stopped by the scheduler (SIGTERM: scancel, time limit or preemption)",
}


def _interrupt(signum: int, frame: Any) -> None:
    for sig in _WHY:  # one interrupt: a second signal must not break the closing of the runs
        signal.signal(sig, signal.SIG_IGN)
    raise KeyboardInterrupt(_WHY.get(signum, f"signal {signum}"))


def _answer(overrides: Sequence[str], status: str, error: str) -> JobReturn:
    """A cell's result that says it did not finish (the sweep reads it; Hydra's sweepers raise on
    a FAILED JobReturn, so the job itself is COMPLETED)."""
    from ablate.job.contract import unfinished

    value = unfinished(status, error)
    return JobReturn(overrides=list(overrides), status=JobStatus.COMPLETED, _return_value=value)


class _Finishing(upstream.BaseSubmititLauncher):
    def __call__(
        self,
        sweep_overrides: list[str],
        job_dir_key: str,
        job_num: int,
        job_id: str,
        singleton_state: dict[type, Singleton],
    ) -> JobReturn:
        """One cell, inside its job."""
        import submitit

        from ablate.job.contract import ENV_JOB_LOG

        os.environ[ENV_JOB_LOG] = str(submitit.JobEnvironment().paths.stdout)  # its lines, its failures
        for sig in _WHY:  # after submitit's own handlers, which ignore SIGTERM
            signal.signal(sig, _interrupt)
        try:
            ret = super().__call__(sweep_overrides, job_dir_key, job_num, job_id, singleton_state)
        except KeyboardInterrupt as exc:  # the job's runs are closed KILLED (ablate.job.run)
            print(f"error: {' '.join(filter_overrides(sweep_overrides))}: {exc}", file=sys.stderr, flush=True)
            return _answer(sweep_overrides, "KILLED", str(exc))
        finally:  # a signal while submitit saves the answer must not turn the cell into a failure
            for sig in _WHY:
                signal.signal(sig, signal.SIG_IGN)
        if ret.status == JobStatus.FAILED:  # raised before ablate's own handling: submitit keeps the traceback
            raise ret._return_value
        return ret

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        executor = self._executor()
        params = []
        for idx, overrides in enumerate(job_overrides, start=initial_job_idx):
            log.info(f"\t#{idx} : {' '.join(filter_overrides(overrides))}")
            params.append((list(overrides), "hydra.sweep.dir", idx, f"job_id_for_{idx}", Singleton.get_state()))
        said = io.StringIO()  # what sbatch says: submitit copies it to stderr; one line of it is enough
        try:
            with contextlib.redirect_stderr(said):
                jobs = executor.map_array(self, *zip(*params, strict=True))
        except Exception as exc:  # noqa: BLE001 - sbatch refused the array (a partition, an account, a limit)
            from ablate.job.contract import abandon_sweep

            lines = [line for line in str(exc).splitlines() if line.strip()] or [type(exc).__name__]
            abandon_sweep(f"hydra/launcher={self._EXECUTOR}: the jobs were not submitted: {lines[-1]}")
        sys.stderr.write(said.getvalue())
        log.info(f"{self._EXECUTOR}: {len(jobs)} jobs ({', '.join(j.job_id for j in jobs)}), logs in {executor.folder}")
        try:
            return [self._collect(job, cell, job_overrides) for job, cell in zip(jobs, job_overrides, strict=True)]
        except KeyboardInterrupt:
            for job in jobs:
                job.cancel(check=False)
            print(f"{self._EXECUTOR}: cancelled the sweep's jobs", file=sys.stderr, flush=True)
            raise

    def _executor(self):
        """submitit's executor with this launcher's settings (as upstream builds it)."""
        import submitit

        assert self.config is not None
        init = {"folder": self.params["submitit_folder"]}
        if "max_num_timeout" in self.params:
            init[f"{self._EXECUTOR}_max_num_timeout"] = self.params["max_num_timeout"]
        executor = submitit.AutoExecutor(cluster=self._EXECUTOR, **init)
        shared = set(OmegaConf.structured(BaseQueueConf).keys())
        skip = {"submitit_folder", "max_num_timeout"}
        executor.update_parameters(
            **{k if k in shared else f"{self._EXECUTOR}_{k}": v for k, v in self.params.items() if k not in skip}
        )
        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        sweep_dir.mkdir(parents=True, exist_ok=True)
        if "mode" in self.config.hydra.sweep:
            os.chmod(sweep_dir, mode=int(str(self.config.hydra.sweep.mode), 8))
        return executor

    def _collect(self, job, overrides: Sequence[str], every: Sequence[Sequence[str]]) -> JobReturn:
        """The job's answer; for a job that never gave one, its cell closed from here."""
        from submitit.core.utils import FailedJobError, UncompletedJobError

        gone = None  # since when the scheduler no longer lists the unfinished job
        while not job.done():
            gone = None if self._listed(job) else (gone or time.monotonic())
            if gone is not None and time.monotonic() - gone > GRACE_S:
                # e.g. an array task cancelled before it was scheduled: accounting never saw it, and
                # submitit's results() would wait for it forever
                return self._lost(job, overrides, every, GONE)
            time.sleep(2)
        try:
            return job.results()[0]
        except FailedJobError as exc:  # Python raised in the job, outside ablate's handling
            return self._lost(job, overrides, every, "FAILED", exc)
        except UncompletedJobError:
            state = (job.state or "UNKNOWN").split()[0]
            return self._lost(job, overrides, every, GONE if state == "UNKNOWN" else state)

    def _lost(
        self,
        job,
        overrides: Sequence[str],
        every: Sequence[Sequence[str]],
        state: str,
        failure: Exception | None = None,
    ) -> JobReturn:
        """Close the cell of a job that never answered: KILLED with its Slurm state, or FAILED with
        the traceback submitit kept; say so on the sweep's console."""
        from ablate.job.contract import close_cell
        from ablate.tracking.store import redact

        last = str(failure).strip().splitlines()[-1] if failure is not None and str(failure).strip() else ""
        reason = f"{self._EXECUTOR} job {job.job_id} {state}" + (f": {last}" if last else "")
        log = str(job.paths.stderr)
        cell, status = _cell(overrides, every), "KILLED" if failure is None else "FAILED"
        try:
            close_cell(list(overrides), cell, status, reason, log, str(failure) if failure is not None else None)
        except Exception as store:  # noqa: BLE001 - the report says what the store lacks
            print(f"warning: could not close the cell's runs: {type(store).__name__}: {store}", file=sys.stderr)
        print(f"error: {redact(cell)}: {reason}; log: {log}", file=sys.stderr, flush=True)
        return _answer(overrides, status, reason)

    def _listed(self, job) -> bool:
        """Whether the scheduler still lists the job as pending or running (here: always)."""
        return True


def _cell(overrides: Sequence[str], every: Sequence[Sequence[str]]) -> str:
    """The cell's name as its jobs name their runs: the values that tell it from the sweep's other
    cells ("skip=False bottleneck=True"); every override in a sweep of one."""
    common = set.intersection(*(set(o) for o in every)) if len(every) > 1 else set()
    pairs = [o.lstrip("+~").split("=", 1) for o in filter_overrides(overrides) if o not in common and "=" in o]
    return " ".join(f"{k.split('.')[-1]}={v}" for k, v in pairs) or "job"


class SlurmLauncher(_Finishing, upstream.SlurmLauncher):
    def _listed(self, job) -> bool:
        try:
            out = subprocess.run(
                ["squeue", "-h", "-j", job.job_id, "-o", "%T"], capture_output=True, text=True, timeout=30
            )
        except (OSError, subprocess.SubprocessError):
            return True  # the controller is busy: assume the job is still there
        if out.returncode != 0:  # "Invalid job id": it left the controller's memory; else the controller is busy
            return "invalid job id" not in out.stderr.lower()
        return bool(out.stdout.strip())

    @staticmethod
    def preflight(node: Any) -> None:
        """Settings that would fail every job, before anything is submitted (ValueError, one line)."""
        delay, limit = node.signal_delay_s, node.timeout_min * 60
        if delay + 90 > limit:  # Slurm may send it up to 60 s early, and a job takes seconds to start
            raise ValueError(
                f"hydra.launcher.signal_delay_s={delay} with timeout_min={node.timeout_min}: allowed: "
                f"signal_delay_s <= timeout_min x 60 - 90, so timeout_min >= {-(-(delay + 90) // 60)} (Slurm may "
                "send this time-limit warning up to 60 s early, and a job that gets it while it starts dies)"
            )
        if shutil.which("sbatch") is None:
            raise ValueError("hydra/launcher=slurm: no `sbatch` on this machine (submit from a Slurm login node)")
        try:  # the controller answers (its address comes from slurm.conf or $SLURM_CONF)
            sinfo = subprocess.run(
                ["sinfo", "-h", "-o", "%P|%c|%m|%G"], capture_output=True, text=True, timeout=15, check=True
            )
        except (OSError, subprocess.SubprocessError) as exc:
            said = [line for line in (getattr(exc, "stderr", None) or str(exc)).splitlines() if line.strip()]
            raise ValueError(
                f"hydra/launcher=slurm: Slurm does not answer `sinfo`: {said[-1] if said else exc}"
            ) from None
        _fits(node, [line.split("|") for line in sinfo.stdout.splitlines() if line.count("|") == 3])


def _fits(node: Any, rows: list[list[str]]) -> None:
    """What a job asks of one node, against the partition's largest node (sinfo rows: partition,
    CPUs, memory in MB, generic resources). Slurm accepts an array that asks for more CPUs than
    any node has and leaves it pending forever, so this is said before submission."""
    if not rows:
        return
    partitions = list(dict.fromkeys(row[0].rstrip("*") for row in rows))  # the default one is starred
    if node.partition is not None and str(node.partition) not in partitions:
        raise ValueError(
            f"hydra.launcher.partition={node.partition}: no such partition (allowed: {', '.join(partitions)})"
        )
    name = str(node.partition) if node.partition is not None else None
    mine = [r for r in rows if (r[0].rstrip("*") == name if name else r[0].endswith("*"))] or rows
    where = f"partition {mine[0][0].rstrip('*')}"
    if (node.gpus_per_node or 0) > 0 and not any("gpu" in r[3] for r in mine):
        raise ValueError(
            f"hydra.launcher.gpus_per_node={node.gpus_per_node}: no node of {where} has a GPU "
            "(sinfo lists no gpu resource; allowed: 0)"
        )
    cpus = max(int(r[1].rstrip("+")) for r in mine)
    wanted = (node.cpus_per_task or 1) * (node.tasks_per_node or 1)
    if wanted > cpus:
        raise ValueError(
            f"hydra.launcher.cpus_per_task={node.cpus_per_task}: the largest node of {where} has {cpus} CPUs "
            f"(allowed: cpus_per_task x tasks_per_node <= {cpus})"
        )
    memory = max(int(r[2].rstrip("+")) for r in mine) // 1024  # MB -> GB as sbatch --mem=<n>GB reads it
    if node.mem_gb is not None and node.mem_gb > memory:
        raise ValueError(
            f"hydra.launcher.mem_gb={node.mem_gb}: the largest node of {where} has {memory} GB (allowed: <= {memory})"
        )
