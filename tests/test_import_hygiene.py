"""The jax-free entry points import nothing from the engine extra: the TUI, ``import xaxengine``, the light engine
modules and the CLI's ``ls``/``tail``/``stop``/``checkpoint`` path, each checked in a fresh interpreter.

A thin client (``pip install xax-tui`` without ``[engine]``) has none of those packages, so importing one there is a
crash, not a slow start. The time each import takes is reported (the ``import times`` section at the end of the
run, and ``import_s`` in the JUnit properties), never gated on: the machine may be loaded.
"""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from xaxengine.extras import ENGINE_MODULES

REPO = Path(__file__).resolve().parents[1]
RECORDED = REPO / "tests" / "fixtures" / "recorded_runs"
ENGINE = Path(sys.executable).parent / "xaxengine"
# The engine extra's modules, plus jax's own pieces that a jax install brings.
FORBIDDEN = frozenset({*ENGINE_MODULES, "jaxlib", "ml_dtypes", "opt_einsum"})

JAX_FREE_MODULES = [
    "xaxengine",
    "xaxtui.app",
    "xaxengine.protocol",
    "xaxengine.runs",
    "xaxengine.config",
    "xaxengine.launch_config",
    "xaxengine.extras",
    "xaxengine.cli",
    "xaxengine.task.launchers.child",  # the multi_cpu/multi_process parent: starts ranks, never imports jax itself
    "xaxengine.task.launchers.slurm",  # writes sbatch scripts on a login node
]

CODE = """
import json, sys, time
t = time.perf_counter()
import {module}
elapsed = time.perf_counter() - t
print(json.dumps({{"seconds": elapsed, "loaded": sorted({{m.split(".")[0] for m in sys.modules}})}}))
"""


def _report(record_property, what: str, seconds: float) -> None:
    record_property("import_s", {"what": what, "seconds": round(seconds, 3)})


@pytest.mark.parametrize("module", JAX_FREE_MODULES)
def test_module_imports_nothing_from_the_engine_extra(module: str, record_property):
    out = subprocess.run(
        [sys.executable, "-c", CODE.format(module=module)], capture_output=True, text=True, check=True, cwd=REPO
    )
    report = json.loads(out.stdout)
    _report(record_property, f"import {module}", report["seconds"])
    assert not FORBIDDEN & set(report["loaded"]), f"import {module} loads {sorted(FORBIDDEN & set(report['loaded']))}"


def _imported_by(argv: list[str], cwd: Path) -> tuple[subprocess.CompletedProcess[str], set[str], float]:
    """Runs the real console script under ``-X importtime``: the top-level modules it imported and their total s."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", str(ENGINE), *argv], capture_output=True, text=True, cwd=cwd, check=False
    )
    names: set[str] = set()
    total_us = 0
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line or "cumulative" in line:
            continue
        _, cumulative, name = line.removeprefix("import time:").split("|")
        if not name.startswith(" " * 3):  # a top-level import: its cumulative time includes its children
            total_us += int(cumulative)
        names.add(name.strip().split(".")[0])
    return proc, names, total_us / 1e6


@pytest.mark.parametrize(
    ("command", "code"),
    [
        (["ls"], 0),
        (["ls", "--json"], 0),
        (["tail", "20261125-060000-a1b2"], 0),
        (["stop", "20261125-060000-a1b2"], 2),  # finished: no live engine to signal (the same path up to the kill)
        (["checkpoint", "20261125-060000-a1b2"], 2),
        (["--help"], 0),
    ],
)
def test_cli_control_path_imports_nothing_from_the_engine_extra(command, code, tmp_path, record_property):
    shutil.copytree(RECORDED, tmp_path / "runs")
    proc, names, seconds = _imported_by(command, tmp_path)
    assert proc.returncode == code, proc.stderr[-2000:]
    assert "xaxengine" in names  # the importtime trace was read
    _report(record_property, f"xaxengine {' '.join(command)}", seconds)
    assert not FORBIDDEN & names, f"xaxengine {' '.join(command)} imports {sorted(FORBIDDEN & names)}"


def test_the_check_sees_jax_when_a_command_imports_it(tmp_path):
    """The trace parser is not blind: ``xaxengine devices`` imports jax, and the trace shows it."""
    proc, names, _ = _imported_by(["devices"], tmp_path)
    assert proc.returncode == 0 and "jax" in names
