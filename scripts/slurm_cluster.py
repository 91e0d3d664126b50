#!/usr/bin/env python3
"""A throwaway one-node Slurm cluster on this machine: munged, slurmctld and slurmd on loopback, state in one dir.

For the Slurm tests (``tests/xaxengine/task/launchers/slurm/conftest.py``) and for trying ``xaxengine slurm`` by hand::

    sudo python scripts/slurm_cluster.py start /tmp/xax-slurm   # prints `export SLURM_CONF=...`
    eval "$(sudo python scripts/slurm_cluster.py env /tmp/xax-slurm)"
    sinfo; xaxengine slurm tasks/digits.toml --submit --wait
    sudo python scripts/slurm_cluster.py stop /tmp/xax-slurm

It installs ``slurm-wlm`` and ``munge`` with apt-get when they are missing (root only), writes a ``slurm.conf``
for this host with its real CPU count (``select/cons_tres``, ``proctrack/linuxproc``, ``task/none``: no cgroups),
its own munge key and socket, free ports for the controller and the node daemon, and keeps state, spool, logs
and pid files under the given directory, so it never touches ``/etc/slurm`` or a system munged. The daemons run
as root (slurmd must). ``stop`` ends them by the pids it recorded.
"""

import argparse
import getpass
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

DAEMONS = ("slurmd", "slurmctld", "munged")  # stop order: the node, the controller, then the credential daemon
PARTITION = "debug"
MUNGED = Path("/usr/sbin/munged")


class ClusterUnavailableError(Exception):
    """The cluster cannot run here (packages missing and not installable, or a daemon would not start)."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def install_packages() -> None:
    """Installs slurm-wlm and munge with apt-get when a binary is missing.

    Raises:
        ClusterUnavailableError: Not root, no apt-get, or the install failed.
    """
    needed = ("sbatch", "srun", "sinfo", "scontrol", "scancel", "slurmctld", "slurmd")
    if all(shutil.which(b) or Path("/usr/sbin", b).exists() for b in needed) and MUNGED.exists():
        return
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise ClusterUnavailableError("slurm-wlm/munge are not installed and cannot be (needs root and apt-get)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "slurm-wlm", "munge"]):
        done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
        if done.returncode:
            tail = (done.stderr or done.stdout).strip().splitlines()[-1:]
            raise ClusterUnavailableError(f"{' '.join(command)} failed ({done.returncode}): {tail}")


def _sbin(name: str) -> str:
    found = shutil.which(name) or str(Path("/usr/sbin", name))
    if not Path(found).exists():
        raise ClusterUnavailableError(f"{name} is not installed")
    return found


@dataclass
class SlurmCluster:
    """A one-node cluster whose config, state, logs and pids live under ``root``."""

    root: Path

    @property
    def conf(self) -> Path:
        """The ``slurm.conf`` clients read through ``SLURM_CONF``."""
        return self.root / "slurm.conf"

    @property
    def node(self) -> str:
        """The node's name (this host's short name, as slurmd finds itself)."""
        return socket.gethostname().split(".")[0]

    def env(self) -> dict[str, str]:
        """The variables a client (sbatch, srun, squeue, xaxengine) needs to talk to this cluster."""
        return {"SLURM_CONF": str(self.conf)}

    def log(self, daemon: str) -> Path:
        """The log file of a daemon."""
        return self.root / "log" / f"{daemon}.log"

    def start(self, timeout: float = 60.0) -> None:
        """Writes the config and key, starts the three daemons and waits until the node is idle.

        Raises:
            ClusterUnavailableError: Missing packages, or a daemon exited or the node never became idle (with its log).
        """
        install_packages()
        if os.geteuid() != 0:
            raise ClusterUnavailableError("slurmd must run as root")
        for sub in ("state", "spool", "log", "munge"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o755)
        (self.root / "munge").chmod(0o700)
        key = self.root / "munge" / "munge.key"
        if not key.exists():
            key.write_bytes(os.urandom(1024))
        key.chmod(0o400)
        self.conf.write_text(self._slurm_conf())
        munge_dir = self.root / "munge"
        self._spawn(
            "munged",
            [
                _sbin("munged"),
                "--foreground",
                "--force",
                f"--socket={munge_dir / 'munge.socket'}",
                f"--key-file={key}",
                f"--pid-file={munge_dir / 'munged.pid'}",
                f"--seed-file={munge_dir / 'munged.seed'}",
                f"--log-file={self.log('munged')}",
            ],
        )
        self._wait((munge_dir / "munge.socket").exists, "munged", 10.0)
        self._spawn("slurmctld", [_sbin("slurmctld"), "-D", "-f", str(self.conf)])
        self._wait(self._controller_up, "slurmctld", timeout)
        self._spawn("slurmd", [_sbin("slurmd"), "-D", "-f", str(self.conf), "-N", self.node])
        self._wait(self._node_idle, "slurmd", timeout)

    def stop(self) -> None:
        """Cancels leftover jobs, then ends every daemon it started by the pid it recorded (TERM, KILL after 10 s)."""
        if (self.root / "slurmctld.daemon-pid").exists() and self.conf.exists():
            user = f"--user={getpass.getuser()}"
            try:
                self.run("scancel", user, "--state=PENDING")
                self.run("scancel", user, "--signal=KILL", "--full")
                deadline = time.monotonic() + 20
                while time.monotonic() < deadline and self.run("squeue", "--noheader").stdout.strip():
                    time.sleep(0.5)
            except subprocess.TimeoutExpired:
                pass  # the controller is gone already; its jobs' processes die with slurmd's steps
        for daemon in DAEMONS:
            pid_file = self.root / f"{daemon}.daemon-pid"
            if not pid_file.exists():
                continue
            pid = int(pid_file.read_text())
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pid_file.unlink()
                continue
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and _alive(pid):
                time.sleep(0.1)
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
            pid_file.unlink()

    def run(self, *command: str, timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
        """Runs a Slurm client command against this cluster; returns it finished (output as text)."""
        env = {**os.environ, **self.env()}
        return subprocess.run(list(command), capture_output=True, text=True, env=env, timeout=timeout, check=False)

    def _slurm_conf(self) -> str:
        cpus = os.cpu_count() or 1
        r = self.root
        return "\n".join(
            [
                "# Written by scripts/slurm_cluster.py: a one-node test cluster on loopback.",
                "ClusterName=xaxtest",
                f"SlurmctldHost={self.node}(127.0.0.1)",
                "SlurmUser=root",
                "SlurmdUser=root",
                f"SlurmctldPort={free_port()}",
                f"SlurmdPort={free_port()}",
                "AuthType=auth/munge",
                "CredType=cred/munge",
                f"AuthInfo=socket={r / 'munge' / 'munge.socket'}",
                f"StateSaveLocation={r / 'state'}",
                f"SlurmdSpoolDir={r / 'spool'}",
                f"SlurmctldPidFile={r / 'slurmctld.pid'}",
                f"SlurmdPidFile={r / 'slurmd.pid'}",
                f"SlurmctldLogFile={self.log('slurmctld')}",
                f"SlurmdLogFile={self.log('slurmd')}",
                "SlurmctldDebug=info",
                "SlurmdDebug=info",
                "ProctrackType=proctrack/linuxproc",
                "TaskPlugin=task/none",
                "SelectType=select/cons_tres",
                "SelectTypeParameters=CR_CPU",
                "SchedulerType=sched/backfill",
                "JobAcctGatherType=jobacct_gather/none",
                "AccountingStorageType=accounting_storage/none",
                "MpiDefault=none",
                "MailProg=/bin/true",
                "ReturnToService=2",
                "SlurmdTimeout=60",
                "KillWait=30",  # the engines checkpoint between SIGTERM and SIGKILL (requeue, scancel)
                "MinJobAge=600",
                "JobRequeue=0",
                f"NodeName={self.node} NodeAddr=127.0.0.1 CPUs={cpus} State=UNKNOWN",
                f"PartitionName={PARTITION} Nodes={self.node} Default=YES MaxTime=INFINITE State=UP",
                "",
            ]
        )

    def _spawn(self, daemon: str, command: list[str]) -> None:
        out = open(self.log(f"{daemon}.stdout"), "ab")  # noqa: SIM115 (the daemon owns it)
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        (self.root / f"{daemon}.daemon-pid").write_text(f"{proc.pid}\n")

    def _wait(self, ready: Callable[[], bool], daemon: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        pid = int((self.root / f"{daemon}.daemon-pid").read_text())
        while time.monotonic() < deadline:
            if not _alive(pid):
                break
            if ready():
                return
            time.sleep(0.25)
        self.stop()
        log = self.log(daemon)
        text = log.read_text() if log.exists() else ""
        text += self.log(f"{daemon}.stdout").read_text() if self.log(f"{daemon}.stdout").exists() else ""
        last = [line for line in text.splitlines() if "error" in line.lower() or "fatal" in line.lower()][-3:]
        state = "exited" if not _alive(pid) else f"not ready after {timeout:.0f} s"
        raise ClusterUnavailableError(f"{daemon} {state}: {' | '.join(last) or 'see ' + str(log)}")

    def _controller_up(self) -> bool:
        return self.run("scontrol", "ping", timeout=10).stdout.count("UP") > 0

    def _node_idle(self) -> bool:
        done = self.run("sinfo", "--noheader", "--nodes", self.node, "--format=%T", timeout=10)
        return done.stdout.strip().rstrip("*") == "idle"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (a daemon we started and that died) counts as gone
        waited, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True
    return waited == 0


def main() -> int:
    """``start DIR`` / ``stop DIR`` / ``env DIR``; prints the ``export`` line clients need."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["start", "stop", "env"])
    parser.add_argument("dir", type=Path, help="Where the config, state, logs and pids live.")
    args = parser.parse_args()
    cluster = SlurmCluster(args.dir.resolve())
    try:
        if args.action == "start":
            cluster.start()
        elif args.action == "stop":
            cluster.stop()
            return 0
    except ClusterUnavailableError as error:
        sys.stderr.write(f"slurm_cluster: {error}\n")
        return 2
    sys.stdout.write(f"export SLURM_CONF={cluster.conf}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
