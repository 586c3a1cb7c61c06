"""A real one-node Slurm cluster with accounting, for the tests and for trying the launcher by hand.

Debian's packages (slurm-wlm, slurmdbd, munge, mariadb-server; `.ci/run` installs them) started
by hand, as root, every file under one folder: munged on its own socket, a MariaDB server on
127.0.0.1 for slurmdbd (without accounting submitit can never learn a job's state: `sacct` is
how it polls), slurmctld and one slurmd named after this host. Nothing under /etc or /run is
touched; clients find the cluster through $SLURM_CONF. By hand:

    python tests/helpers/slurm.py /tmp/slurm [CPUS]   # prints the export line; Ctrl-C stops it all
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

try:
    from helpers.procs import stop_group
except ImportError:  # run as a script: python tests/helpers/slurm.py
    from procs import stop_group

DAEMONS = ("munged", "mariadbd", "mariadb-install-db", "slurmdbd", "slurmctld", "slurmd")
CLIENTS = ("sbatch", "squeue", "sacct", "scancel", "scontrol", "sinfo")
PACKAGES = "slurm-wlm slurmdbd munge mariadb-server"


def unavailable() -> str | None:
    """Why this machine cannot run the cluster, or None."""
    if os.geteuid() != 0:
        return "the one-node Slurm cluster needs root (its daemons run as root here)"
    missing = [b for b in DAEMONS + CLIENTS if not shutil.which(b, path=f"{os.environ.get('PATH', '')}:/usr/sbin")]
    if missing:
        return f"no {', '.join(missing)}: apt-get install {PACKAGES}"
    return None


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _write(path: Path, text: str, mode: int = 0o644) -> None:
    path.write_text(text)
    path.chmod(mode)


class Cluster:
    """The daemons of one cluster under `root`; `env` is what a client needs ($SLURM_CONF)."""

    def __init__(self, root: Path, cpus: int) -> None:
        self.root, self.cpus = root, cpus
        self.node = socket.gethostname().split(".")[0]
        self.env = {**os.environ, "SLURM_CONF": str(root / "slurm.conf"), "PATH": f"{os.environ['PATH']}:/usr/sbin"}
        self.procs: list[subprocess.Popen] = []

    def sh(self, *cmd: str, check: bool = True, timeout: float = 60) -> str:
        """A Slurm client command against this cluster; its stdout."""
        out = subprocess.run(cmd, env=self.env, capture_output=True, text=True, timeout=timeout)
        if check and out.returncode:
            raise RuntimeError(f"{' '.join(cmd)}: rc {out.returncode}: {out.stderr.strip()}")
        return out.stdout

    def _daemon(self, name: str, *args: str) -> None:
        log = (self.root / f"{name}.out").open("w")
        self.procs.append(
            subprocess.Popen(
                [shutil.which(name, path=self.env["PATH"]), *args],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        )

    def _wait(self, what: str, ready, seconds: float = 60) -> None:
        deadline = time.monotonic() + seconds
        while not ready():
            for proc in self.procs:
                if proc.poll() is not None:
                    files = sorted(self.root.glob("*.log")) + sorted(self.root.glob("*.out"))
                    logs = "".join(p.read_text()[-1500:] for p in files)
                    raise RuntimeError(f"{proc.args[0]} exited ({proc.returncode}) before {what}:\n{logs}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what}: not ready after {seconds:.0f} s")
            time.sleep(0.2)

    def start(self) -> Cluster:
        r = self.root
        for sub in ("state", "spool", "db"):
            (r / sub).mkdir(parents=True, exist_ok=True)
        ports = {k: _port() for k in ("ctld", "slurmd", "dbd", "db")}
        _write(r / "munge.key", os.urandom(1024).hex(), 0o400)
        files = {"key-file": "munge.key", "socket": "munge.sock", "pid-file": "munged.pid", "log-file": "munged.log",
                 "seed-file": "munge.seed"}  # fmt: skip
        self._daemon("munged", "-F", "--force", "--num-threads=10", *(f"--{k}={r / v}" for k, v in files.items()))
        subprocess.run(["mariadb-install-db", "--no-defaults", f"--datadir={r / 'db'}", "--user=root",
                        "--auth-root-authentication-method=normal", "--skip-test-db"], env=self.env,
                       capture_output=True, check=True, timeout=120)  # fmt: skip
        files = {"datadir": "db", "socket": "db.sock", "pid-file": "db.pid", "log-error": "mariadb.log"}
        flags = [f"--port={ports['db']}", "--bind-address=127.0.0.1", "--user=root", "--skip-grant-tables",
                 "--innodb-buffer-pool-size=32M"]  # fmt: skip
        self._daemon("mariadbd", "--no-defaults", *(f"--{k}={r / v}" for k, v in files.items()), *flags)
        auth = f"AuthType=auth/munge\nAuthInfo=socket={r / 'munge.sock'}\n"
        _write(r / "slurmdbd.conf", auth + f"DbdHost=localhost\nDbdPort={ports['dbd']}\nSlurmUser=root\n"
               f"StorageType=accounting_storage/mysql\nStorageHost=127.0.0.1\nStoragePort={ports['db']}\n"
               f"StorageUser=root\nStorageLoc=slurm_acct_db\nPidFile={r / 'slurmdbd.pid'}\n"
               f"LogFile={r / 'slurmdbd.log'}\n", 0o600)  # fmt: skip
        memory = int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 2**20 * 0.8)
        _write(r / "slurm.conf", auth + f"""ClusterName=ablate
SlurmctldHost={self.node}(127.0.0.1)
SlurmctldPort={ports['ctld']}
SlurmdPort={ports['slurmd']}
SlurmUser=root
StateSaveLocation={r / 'state'}
SlurmdSpoolDir={r / 'spool'}
SlurmctldPidFile={r / 'slurmctld.pid'}
SlurmdPidFile={r / 'slurmd.pid'}
SlurmctldLogFile={r / 'slurmctld.log'}
SlurmdLogFile={r / 'slurmd.log'}
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStoragePort={ports['dbd']}
AccountingStoragePass={r / 'munge.sock'}
JobCompType=jobcomp/none
MpiDefault=none
ReturnToService=2
MailProg=/bin/true
KillWait=10
SlurmdParameters=config_overrides
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0
NodeName={self.node} NodeAddr=127.0.0.1 CPUs={self.cpus} RealMemory={memory} State=UNKNOWN
PartitionName=debug Nodes={self.node} Default=YES MaxTime=INFINITE State=UP
""")  # fmt: skip
        self._wait("munged", lambda: (r / "munge.sock").exists())
        self._wait("mariadb", lambda: (r / "db.sock").exists(), 120)
        self._daemon("slurmdbd", "-D")
        self._wait("slurmdbd", lambda: _listening(ports["dbd"]))
        self._daemon("slurmctld", "-D", "-i")
        self._wait("slurmctld", lambda: _listening(ports["ctld"]))
        self._daemon("slurmd", "-D")
        self._wait("an idle node", lambda: self.sh("sinfo", "-h", "-o", "%T", check=False).strip() == "idle", 90)
        return self

    def stop(self) -> None:
        """Cancel every job, then stop the daemons (slurmd first, so no job step outlives them)."""
        with contextlib.suppress(Exception):
            self.sh("scancel", "--full", "--user=root", check=False, timeout=20)
            deadline = time.monotonic() + 30
            while self.sh("squeue", "-h", check=False, timeout=20).strip() and time.monotonic() < deadline:
                time.sleep(0.5)
        for proc in reversed(self.procs):
            stop_group(proc)


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


@contextlib.contextmanager
def cluster(root: Path, cpus: int | None = None):
    """The cluster, up and idle, for the `with` block; everything stopped afterwards."""
    c = Cluster(root, cpus or os.cpu_count() or 1)
    try:
        yield c.start()
    finally:
        c.stop()


if __name__ == "__main__":
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/slurm").resolve()
    cpus = int(sys.argv[2]) if len(sys.argv) > 2 else None
    reason = unavailable()
    if reason:
        sys.exit(f"error: {reason}")
    tic = time.perf_counter()
    with cluster(folder, cpus) as c:
        print(f"up in {time.perf_counter() - tic:.1f} s; node {c.node}, {c.cpus} CPUs", flush=True)
        print(f"export SLURM_CONF={c.env['SLURM_CONF']} PATH=$PATH:/usr/sbin", flush=True)
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        signal.sigwait({signal.SIGINT, signal.SIGTERM})
