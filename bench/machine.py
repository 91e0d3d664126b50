"""What a benchmark result should say about the machine it ran on: cores, load (``uptime``), commit."""

import os
import subprocess
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def uptime() -> str:
    """The ``uptime`` line (load averages over 1, 5 and 15 minutes), or the load averages when it is missing."""
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "load average: " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


def machine() -> dict[str, Any]:
    """Cores, load now, and the commit the bench ran on (other engineers share these cores: numbers are noisy)."""
    git = ["git", "rev-parse", "--short", "HEAD"]
    commit = subprocess.run(git, cwd=REPO, capture_output=True, text=True, check=False)
    changes = subprocess.run(["git", "status", "--porcelain"], cwd=REPO, capture_output=True, text=True, check=False)
    return {
        "cpus": os.cpu_count(),
        "uptime": uptime(),
        "load_avg": list(os.getloadavg()),
        "commit": commit.stdout.strip(),
        "dirty": bool(changes.stdout.strip()),
    }
