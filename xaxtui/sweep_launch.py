"""Starting a sweep from the TUI: ``xaxengine sweep FILE`` as a detached driver, and the folder it made.

The driver outlives the TUI (a sweep takes hours), so it runs in its own session with its output in
``RUNS_DIR/sweeps/.launch/<name>-<time>.log``. The sweep's folder is the one whose ``sweep.json`` appears under
``RUNS_DIR/sweeps`` after the start; a driver that exits first (a bad file, a broken task) is reported with its last
output line.
"""

import subprocess
import time
from pathlib import Path

from xaxtui.engine import engine_cmd
from xaxtui.sweeps import META_FILE, SWEEPS_DIR

LAUNCH_LOGS = ".launch"


class SweepLaunchError(RuntimeError):
    """The driver did not start a sweep; ``str(e)`` is one line (the driver's own last line when it said one)."""


def launch_sweep(sweep_file: Path, runs_dir: Path, timeout_s: float = 60.0, poll_s: float = 0.1) -> Path:
    """Starts ``xaxengine sweep SWEEP_FILE --runs-dir RUNS_DIR`` detached; returns the new sweep's folder.

    Args:
        sweep_file: The ``*.sweep.toml`` to run.
        runs_dir: The runs root (the sweep's folder goes under ``RUNS_DIR/sweeps``).
        timeout_s: How long to wait for the folder.
        poll_s: How often to look.

    Raises:
        SweepLaunchError: The driver could not start, exited before making its folder, or made none in time.
    """
    root = runs_dir / SWEEPS_DIR
    logs = root / LAUNCH_LOGS
    logs.mkdir(parents=True, exist_ok=True)
    before = {p.parent.name for p in root.glob(f"*/{META_FILE}")}
    log_path = logs / f"{sweep_file.name.removesuffix('.toml')}-{time.strftime('%Y%m%d-%H%M%S')}.log"
    argv = [*engine_cmd(), "sweep", str(sweep_file), "--runs-dir", str(runs_dir)]
    with open(log_path, "wb") as log:
        try:
            driver = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        except OSError as error:
            raise SweepLaunchError(f"cannot start {argv[0]}: {error}") from error
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        made = sorted(p.parent for p in root.glob(f"*/{META_FILE}") if p.parent.name not in before)
        if made:
            return made[0]
        if driver.poll() is not None:
            raise SweepLaunchError(f"xaxengine sweep exited {driver.returncode}: {_last_line(log_path)}")
        time.sleep(poll_s)
    raise SweepLaunchError(f"xaxengine sweep made no sweep folder in {timeout_s:.0f} s (its output: {log_path})")


def _last_line(path: Path) -> str:
    lines = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
    return lines[-1].strip() if lines else f"no output (see {path})"
