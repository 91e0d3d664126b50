"""A throwaway OpenSSH server on 127.0.0.1 for the SSH tests: temp host key, temp user key, a free port.

It only ever listens on loopback, accepts only the temp user key, and is killed when the fixture ends.
"""

import getpass
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

SSHD = Path("/usr/sbin/sshd")


def missing_reason() -> str | None:
    """Why the SSH tests cannot run here, or None when they can."""
    if not SSHD.exists():
        return "sshd is not installed (apt-get install -y openssh-server; .ci/run does it)"
    if shutil.which("ssh") is None or shutil.which("ssh-keygen") is None:
        return "the ssh client is not installed (apt-get install -y openssh-client)"
    return None


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def keygen(path: Path) -> Path:
    """Writes a passphrase-less ed25519 key pair; returns the private key path."""
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)
    return path


@dataclass
class SshServer:
    """A running sshd and the client side that can log in to it."""

    port: int
    user: str
    key: Path
    other_key: Path
    process: subprocess.Popen[bytes]
    log: Path

    def client_options(self, key: Path | None = None) -> tuple[str, ...]:
        """ssh options that use the temp key and ignore the user's config and known hosts."""
        return (
            "-F",
            "/dev/null",
            "-i",
            str(key or self.key),
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
        )

    def stop(self) -> None:
        """Kills the server (sessions it spawned end with it)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()


def start_sshd(tmp: Path) -> SshServer:
    """Starts ``sshd -D -f CONFIG`` on a free loopback port; waits until it accepts connections."""
    tmp.mkdir(parents=True, exist_ok=True)
    host_key, user_key, other_key = keygen(tmp / "host_key"), keygen(tmp / "user_key"), keygen(tmp / "other_key")
    (tmp / "authorized_keys").write_text(Path(f"{user_key}.pub").read_text())
    port = free_port()
    config = tmp / "sshd_config"
    config.write_text(
        "\n".join(
            [
                "ListenAddress 127.0.0.1",
                f"Port {port}",
                f"HostKey {host_key}",
                f"AuthorizedKeysFile {tmp / 'authorized_keys'}",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                "PermitRootLogin prohibit-password",
                "StrictModes no",
                "UsePAM no",
                f"PidFile {tmp / 'sshd.pid'}",
                "MaxStartups 50:30:100",
                "",
            ]
        )
    )
    if os.geteuid() == 0:
        Path("/run/sshd").mkdir(parents=True, exist_ok=True)
    log = tmp / "sshd.log"
    process = subprocess.Popen([str(SSHD), "-D", "-f", str(config), "-E", str(log)])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"sshd exited {process.returncode}: {log.read_text() if log.exists() else ''}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    return SshServer(port, getpass.getuser(), user_key, other_key, process, log)
