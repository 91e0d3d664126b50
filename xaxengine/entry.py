"""The engine's entry layer: argv or a config -> a checked task -> the launcher of its layout.

``xaxengine run/resume`` (the CLI) and ``MyTask.launch`` / ``MyTask.main`` (Python, ``python -m my_task``) all come
through here, so a task is checked the same way however it is started: one missing a hook is refused before its
run directory exists.
"""

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from xaxengine.catalog import find_run
from xaxengine.checkpoint_choice import init_from_dir, parse_choice, rewind_to, split_choice
from xaxengine.config import ConfigError, build_config, load_run_spec
from xaxengine.config.build import check_task_class
from xaxengine.exit_codes import EXIT_BAD_INPUT
from xaxengine.launch_config import LAYOUTS, RunOptions
from xaxengine.runs import CONFIG_FILE, RunError, resolve_runs_dir
from xaxengine.task.launchers import launch as launch_layout
from xaxengine.task.launchers.runnable import Runnable

INIT_FROM_HELP = "Start from another run's weights: RUN (its latest checkpoint) or RUN:best (fine-tuning)."
FLAG_FIELDS = {  # run/resume flags that are shorthands for config overrides
    "layout": "launch.layout",
    "num_devices": "launch.num_devices",
    "num_processes": "launch.num_processes",
    "profile_steps": "profile.steps",
    "debug_nans": "profile.debug_nans",
}


def add_run_flags(parser: argparse.ArgumentParser, with_help: bool = True) -> None:
    """The flags ``run``, ``resume`` and ``python -m TASK`` share (``--runs-dir``, ``--layout``...)."""
    parser.add_argument("--runs-dir", help="Runs root (default: $XAX_RUNS_DIR or ./runs).")
    parser.add_argument("--run-id", help="Name of the new run's folder (default: a timestamped id).")
    parser.add_argument("--events", choices=["-"], help="'-': also write the event lines to stdout (for the TUI).")
    parser.add_argument("--layout", choices=LAYOUTS, help="Device layout (same as launch.layout=...).")
    parser.add_argument("--num-devices", type=int, help="Devices per process (same as launch.num_devices=N).")
    parser.add_argument("--num-processes", type=int, help="multi_process: processes (launch.num_processes=N).")
    parser.add_argument(
        "--profile-steps", metavar="START:END", help="Trace these steps with jax.profiler (profile.steps=...)."
    )
    parser.add_argument(
        "--debug-nans", action="store_true", default=None, help="Raise at the first NaN (profile.debug_nans=true)."
    )
    if with_help:
        parser.add_argument("-h", "--help", action="store_true", help="Show this help and the task's config fields.")


def add_checkpoint_choice(parser: argparse.ArgumentParser) -> None:
    """``--from latest|best|STEP``: which checkpoint ``resume`` restores (``best``: the one ``keep_best`` kept)."""
    parser.add_argument(
        "--from",
        dest="from_checkpoint",
        type=parse_choice,
        default="latest",
        metavar="latest|best|STEP",
        help="Resume from the newest checkpoint (latest), the one checkpoint.keep_best kept (best), or a step's.",
    )


def resume(run: str, args: argparse.Namespace) -> int:
    """Continues ``run`` in its own directory from its ``config.toml`` (``resume``, ``run --resume``, ``-m``).

    With ``--from best`` or ``--from STEP`` that checkpoint becomes the newest first (see
    :mod:`xaxengine.checkpoint_choice`).
    """
    run_dir = find_run(run, resolve_runs_dir(args.runs_dir))
    if not (run_dir / CONFIG_FILE).exists():
        raise RunError(f"{run_dir}: no {CONFIG_FILE}, cannot resume")
    choice = getattr(args, "from_checkpoint", "latest")
    if choice != "latest":
        sys.stderr.write(f"xaxengine: {rewind_to(run_dir, choice)}\n")
    overrides = list(args.overrides)
    keys = {o.partition("=")[0].strip() for o in flag_overrides(overrides, args)}
    if "launch.layout" in keys and "launch.num_devices" not in keys:
        # Resuming under another layout: the old device count belongs to the old layout; take the new one's default.
        overrides.append("launch.num_devices=0")
    return start(run_dir / CONFIG_FILE, overrides, args, RunOptions(args.events == "-", resume_dir=run_dir))


def init_from_run(args: argparse.Namespace) -> Path | None:
    """The checkpoint folder ``--init-from RUN`` (or ``RUN:best``, ``RUN:latest``) names, if any.

    Raises:
        RunError: No such run, or ``:best`` of a run without a best checkpoint.
    """
    if not args.init_from:
        return None
    run, choice = split_choice(args.init_from)
    return init_from_dir(find_run(run, resolve_runs_dir(args.runs_dir)), choice)


def flag_overrides(overrides: Sequence[str], args: argparse.Namespace) -> list[str]:
    """The overrides plus those the run flags stand for (``--layout L`` -> ``launch.layout="L"``)."""
    extra = list(overrides)
    if args.runs_dir:
        extra.append(f"artifacts.runs_dir={json.dumps(str(args.runs_dir))}")
    if args.run_id:
        extra.append(f"artifacts.run_id={json.dumps(args.run_id)}")
    for flag, key in FLAG_FIELDS.items():
        value = getattr(args, flag, None)
        if value is not None:
            extra.append(f"{key}={json.dumps(value)}")
    return extra


def start(toml: Path, overrides: Sequence[str], args: argparse.Namespace, options: RunOptions) -> int:
    """Loads a task file with the overrides and flags applied, then launches it; returns the exit code."""
    spec = load_run_spec(toml, flag_overrides(overrides, args))
    return launch(spec.task_cls, spec.config, options)


def run_task_main(task_cls: Any, argv: Sequence[str] | None = None) -> int:
    """``python -m module``: runs ``task_cls`` from its config class defaults plus dotted overrides and run flags."""
    spec = task_cls.task_spec()
    parser = argparse.ArgumentParser(
        prog=f"python -m {spec.partition(':')[0]}", description=f"Train {spec} from its config class defaults."
    )
    parser.add_argument("overrides", nargs="*", help="Dotted overrides: optimizer.lr=3e-4 train.max_steps=500.")
    parser.add_argument("--resume", metavar="RUN", help="Continue a run (its directory, run id or 'latest').")
    parser.add_argument("--init-from", metavar="RUN", help=INIT_FROM_HELP)
    add_checkpoint_choice(parser)
    add_run_flags(parser, with_help=False)
    args = parser.parse_intermixed_args(argv)
    try:
        if args.resume:
            return resume(args.resume, args)
        if args.from_checkpoint != "latest":
            raise ConfigError(
                f"--from {args.from_checkpoint} picks the checkpoint of --resume RUN (for a new run: "
                "--init-from RUN:best)"
            )
        init_from = init_from_run(args)
        config_cls = task_cls.config_class
        config = build_config(config_cls, {}, source=f"{spec} defaults", overrides=flag_overrides(args.overrides, args))
        return launch(task_cls, config, RunOptions(args.events == "-", init_from=init_from))
    except (ConfigError, RunError) as error:
        sys.stderr.write(f"{parser.prog}: error: {error}\n")
        return EXIT_BAD_INPUT


def launch(task_cls: Runnable, config: Any, options: RunOptions) -> int:
    """Checks the task class, then runs it under ``config.launch.layout``; returns the exit code.

    Raises:
        ConfigError: A task class missing a hook, or a layout the config cannot run.
        RunError: A runs dir that cannot be written.
    """
    check_task_class(task_cls, task_cls.__qualname__)
    check_writable(options.resume_dir or resolve_runs_dir(config.artifacts.runs_dir))
    return launch_layout(task_cls, config, options)


def check_writable(folder: Path) -> None:
    """Refuses, in one line, a runs dir (or resumed run dir) the engine cannot write: before any run dir exists.

    Creates the folder if needed, then writes and removes a probe file (``os.access`` says yes on a read-only
    mount, so only a real write tells).

    Raises:
        RunError: The path is a file, or cannot be created or written (read-only, no permission, disk full).
    """
    if folder.exists() and not folder.is_dir():
        raise RunError(f"runs dir {folder} is a file, not a folder (set --runs-dir or $XAX_RUNS_DIR)")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".xax-write-probe-{os.getpid()}"
        probe.write_bytes(b"x")
        probe.unlink()
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise RunError(f"cannot write to the runs dir {folder}: {reason} (set --runs-dir or $XAX_RUNS_DIR)") from None
