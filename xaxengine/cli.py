"""``xaxengine``: run, resume, list, tail, inspect and control training runs.

Commands that only read run directories (``ls``, ``tail``, ``stop``, ``checkpoint``) never import jax, so they are
fast over SSH. Bad input exits 2 with one line on stderr; a failed run exits 1; an interrupted one 130 or 143.
"""

import argparse
import json
import os
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from xaxengine.config import ConfigError, config_schema, load_run_spec
from xaxengine.extras import engine_hint
from xaxengine.launch_config import LAYOUTS
from xaxengine.protocol import TERMINAL_STATES, Kind, LineReader, encode
from xaxengine.runs import CONFIG_FILE, EVENTS_FILE, RunError, find_run, list_runs, live_pid, resolve_runs_dir

if TYPE_CHECKING:
    from xaxengine.launch_config import RunOptions

EXIT_BAD_INPUT = 2
FLAG_FIELDS = {  # run/resume flags that are shorthands for config overrides
    "layout": "launch.layout",
    "num_devices": "launch.num_devices",
    "num_processes": "launch.num_processes",
    "profile_steps": "profile.steps",
    "debug_nans": "profile.debug_nans",
}


class UsageError(Exception):
    """Bad command-line input; reported as one line, exit 2."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="xaxengine", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="Train a task from a TOML file.", add_help=False)
    run.add_argument("toml", nargs="?", help="Task file, e.g. tasks/mnist.toml.")
    run.add_argument("overrides", nargs="*", help="Dotted overrides: optimizer.lr=3e-4 train.max_steps=500.")
    run.add_argument("--resume", metavar="RUN", help="Continue a run (its directory, run id or 'latest').")
    run.add_argument("--init-from", metavar="RUN", help="Start from another run's latest weights (fine-tuning).")
    _add_common_run_flags(run)

    resume = sub.add_parser("resume", help="Continue a stopped run in its own directory.")
    resume.add_argument("run", help="Run directory, run id or 'latest'.")
    resume.add_argument("overrides", nargs="*", help="Dotted overrides, e.g. train.max_steps=2000 to train longer.")
    _add_common_run_flags(resume, with_help=False)

    ls = sub.add_parser("ls", help="List runs.")
    ls.add_argument("--runs-dir", help="Runs root (default: $XAX_RUNS_DIR or ./runs).")
    ls.add_argument("--json", action="store_true", help="Print a JSON list instead of a table.")

    tail = sub.add_parser("tail", help="Print a run's events as JSON lines.")
    tail.add_argument("run", help="Run directory, run id or 'latest'.")
    tail.add_argument("--runs-dir", help="Runs root (default: $XAX_RUNS_DIR or ./runs).")
    tail.add_argument("--follow", "-f", action="store_true", help="Keep printing new events until the run ends.")
    tail.add_argument("--from-seq", type=int, default=0, help="Only events with seq >= N.")

    schema = sub.add_parser("schema", help="Print the config schema of a task file as JSON (or Markdown).")
    schema.add_argument("toml", nargs="?", help="Task file (optional with --markdown: the engine's sections only).")
    schema.add_argument("--markdown", action="store_true", help="Print the config reference as Markdown tables.")

    sub.add_parser("devices", help="Print the JAX devices and the layouts they allow, as JSON.")

    slurm = sub.add_parser("slurm", help="Write (and with --submit, submit) an sbatch script for a multi-node run.")
    slurm.add_argument("toml", help="Task file.")
    slurm.add_argument("overrides", nargs="*", help="Dotted overrides passed to every rank.")
    slurm.add_argument("--nodes", type=int, default=1, help="Nodes (one engine process per node).")
    slurm.add_argument("--gpus-per-node", type=int, default=0, help="GPUs per node (0: CPU nodes).")
    slurm.add_argument("--partition", default="", help="Slurm partition.")
    slurm.add_argument("--time", default="", help="Time limit, e.g. 04:00:00.")
    slurm.add_argument("--cpus-per-task", type=int, default=0, help="CPUs per engine process (0: Slurm's default).")
    slurm.add_argument("--runs-dir", help="Runs root on storage every node shares (default: $XAX_RUNS_DIR or ./runs).")
    slurm.add_argument("--run-id", help="Run id (default: a new timestamped id).")
    slurm.add_argument("--output", "-o", help="Script path (default: RUNS_DIR/slurm/RUN_ID.sbatch).")
    slurm.add_argument("--submit", action="store_true", help="Submit the script with sbatch.")

    for name, what in (("stop", "Stop a live run gracefully (checkpoint, then exit)."), ("checkpoint", "Save now.")):
        control = sub.add_parser(name, help=what)
        control.add_argument("run", help="Run directory, run id or 'latest'.")
        control.add_argument("--runs-dir", help="Runs root (default: $XAX_RUNS_DIR or ./runs).")
    return parser


def _add_common_run_flags(parser: argparse.ArgumentParser, with_help: bool = True) -> None:
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


def _cmd_run(args: argparse.Namespace) -> int:
    if args.resume and args.toml and "=" in args.toml:  # `run --resume RUN key=value`: no task file, an override
        args.overrides, args.toml = [args.toml, *args.overrides], None
    if args.help or not (args.toml or args.resume):
        _print_run_help(args.toml)
        return 0 if args.help else EXIT_BAD_INPUT
    from xaxengine.launch_config import RunOptions

    if args.resume:
        if args.toml:
            raise UsageError(
                f"--resume {args.resume} continues that run with its own config.toml; drop {args.toml} "
                "(dotted overrides still apply)"
            )
        return _resume(args.resume, args)
    options = RunOptions(events_to_stdout=args.events == "-", init_from=_init_from(args))
    return _start(Path(args.toml), args.overrides, args, options)


def _cmd_resume(args: argparse.Namespace) -> int:
    return _resume(args.run, args)


def _resume(run: str, args: argparse.Namespace) -> int:
    """Continues ``run`` in its own directory from its ``config.toml`` (``resume``, ``run --resume``, ``-m``)."""
    from xaxengine.launch_config import RunOptions

    run_dir = find_run(run, resolve_runs_dir(args.runs_dir))
    if not (run_dir / CONFIG_FILE).exists():
        raise RunError(f"{run_dir}: no {CONFIG_FILE}, cannot resume")
    return _start(run_dir / CONFIG_FILE, args.overrides, args, RunOptions(args.events == "-", resume_dir=run_dir))


def _init_from(args: argparse.Namespace) -> Path | None:
    """The run ``--init-from`` names, if any."""
    return find_run(args.init_from, resolve_runs_dir(args.runs_dir)) if args.init_from else None


def _flag_overrides(overrides: Sequence[str], args: argparse.Namespace) -> list[str]:
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


def _start(toml: Path, overrides: Sequence[str], args: argparse.Namespace, options: "RunOptions") -> int:
    spec = load_run_spec(toml, _flag_overrides(overrides, args))
    from xaxengine.task.mixins.runnable import RunnableMixin

    if not issubclass(spec.task_cls, RunnableMixin):
        raise ConfigError(f"{toml}: task '{spec.task_spec}' is not a runnable task (subclass SupervisedTask)")
    return spec.task_cls.launch(spec.config, options)


def run_task_main(task_cls: Any, argv: Sequence[str] | None = None) -> int:
    """``python -m module``: runs ``task_cls`` from its config class defaults plus dotted overrides and run flags."""
    from xaxengine.config import build_config
    from xaxengine.launch_config import RunOptions

    spec = task_cls.task_spec()
    parser = argparse.ArgumentParser(
        prog=f"python -m {spec.partition(':')[0]}", description=f"Train {spec} from its config class defaults."
    )
    parser.add_argument("overrides", nargs="*", help="Dotted overrides: optimizer.lr=3e-4 train.max_steps=500.")
    parser.add_argument("--resume", metavar="RUN", help="Continue a run (its directory, run id or 'latest').")
    parser.add_argument("--init-from", metavar="RUN", help="Start from another run's latest weights (fine-tuning).")
    _add_common_run_flags(parser, with_help=False)
    args = parser.parse_intermixed_args(argv)
    try:
        if args.resume:
            return _resume(args.resume, args)
        init_from = _init_from(args)
        config_cls = task_cls.config_class
        config = build_config(
            config_cls, {}, source=f"{spec} defaults", overrides=_flag_overrides(args.overrides, args)
        )
        return task_cls.launch(config, RunOptions(args.events == "-", init_from=init_from))
    except (ConfigError, RunError) as error:
        sys.stderr.write(f"{parser.prog}: error: {error}\n")
        return EXIT_BAD_INPUT


def _print_run_help(toml: str | None) -> None:
    lines = [
        "usage: xaxengine run TASK.toml [section.field=value ...] [--runs-dir D] [--run-id ID] [--events -]",
        "                     [--resume RUN] [--init-from RUN] [--layout L] [--num-devices N] [--num-processes N]",
        "                     [--profile-steps START:END] [--debug-nans]",
        "       xaxengine run --resume RUN [section.field=value ...]",
        "",
        'Trains the task named by `task = "module:Class"` in TASK.toml. Overrides use dotted field names.',
    ]
    if toml:
        spec = load_run_spec(Path(toml))
        lines += ["", f"Fields of {spec.task_spec} (current value from {toml}):"]
        for entry in config_schema(type(spec.config)):
            lines.append(f"  {entry['name']:<34} {entry['type']:<10} {entry['help']}")
    sys.stdout.write("\n".join(lines) + "\n")


def _cmd_ls(args: argparse.Namespace) -> int:
    runs = list_runs(resolve_runs_dir(args.runs_dir))
    if args.json:
        sys.stdout.write(json.dumps([r.to_dict() for r in runs]) + "\n")
        return 0
    header = f"{'RUN':<22} {'TASK':<34} {'STATE':<12} {'STEP':>8} {'LOSS':>10}  DIR"
    rows = [header]
    for r in runs:
        loss = f"{r.last_loss:.4g}" if r.last_loss is not None else "-"
        rows.append(f"{r.run_id:<22} {r.task:<34} {r.state:<12} {r.step:>8} {loss:>10}  {r.run_dir}")
    sys.stdout.write("\n".join(rows) + "\n")
    return 0


def _cmd_tail(args: argparse.Namespace) -> int:
    run_dir = find_run(args.run, resolve_runs_dir(args.runs_dir))
    path = run_dir / EVENTS_FILE
    reader = LineReader(after_seq=args.from_seq - 1)
    out = sys.stdout.buffer
    state = None
    idle_since = time.monotonic()
    try:
        with open(path, "rb") as f:
            while True:
                chunk = f.read(1 << 20)
                if chunk:
                    idle_since = time.monotonic()
                    events = reader.feed(chunk)
                    out.write(b"".join(encode(e) for e in events))
                    out.flush()
                    for e in events:
                        if e["kind"] == Kind.STATUS:
                            state = e.get("state")
                    continue
                if not args.follow:
                    return 0
                if state in TERMINAL_STATES and live_pid(run_dir) is None:
                    return 0
                if live_pid(run_dir) is None and time.monotonic() - idle_since > 3.0:
                    return 0
                time.sleep(0.05)
    except FileNotFoundError:
        raise RunError(f"{run_dir}: no {EVENTS_FILE}") from None
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def _cmd_schema(args: argparse.Namespace) -> int:
    if args.markdown:
        from xaxengine.reference import config_markdown

        if args.toml:
            spec = load_run_spec(Path(args.toml))
            config_cls, title = type(spec.config), f"{args.toml} (`{spec.task_spec}`)"
        else:
            from xaxengine.task.task import SupervisedConfig

            config_cls, title = SupervisedConfig, "Engine sections"
        sys.stdout.write(f"## {title}\n\n{config_markdown(config_cls)}")
        return 0
    if not args.toml:
        raise UsageError("schema: give a task file (or --markdown for the engine's sections)")
    spec = load_run_spec(Path(args.toml))
    from xaxengine.config import config_to_dict

    values = _flatten(config_to_dict(spec.config))
    fields = [
        {**entry, "value": values.get(entry["name"], entry["default"])} for entry in config_schema(type(spec.config))
    ]
    sys.stdout.write(json.dumps({"task": spec.task_spec, "fields": fields}) + "\n")
    return 0


def _flatten(data: dict, prefix: str = "") -> dict[str, object]:
    flat: dict[str, object] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _cmd_devices(args: argparse.Namespace) -> int:
    del args
    import jax

    devices = jax.devices()
    layouts = ["single_device", *(["multi_device"] if len(devices) > 1 else []), "multi_cpu", "multi_process"]
    payload = {
        "platform": devices[0].platform,
        "devices": [{"id": d.id, "kind": d.device_kind, "platform": d.platform} for d in devices],
        "layouts": layouts,
        "max_cpu_devices": os.cpu_count() or 1,
        "num_devices": len(devices),
    }
    sys.stdout.write(json.dumps(payload) + "\n")
    return 0


def _cmd_slurm(args: argparse.Namespace) -> int:
    from xaxengine.runs import new_run_id, task_dir_name
    from xaxengine.task.launchers.slurm import SlurmError, SlurmJob, submit, write_script

    spec = load_run_spec(Path(args.toml), args.overrides)  # fails early on a bad file or override
    job = SlurmJob(
        toml=Path(args.toml),
        runs_dir=resolve_runs_dir(args.runs_dir),
        run_id=args.run_id or new_run_id(),
        job_name=f"xax-{task_dir_name(spec.task_cls.__name__)}",
        nodes=args.nodes,
        gpus_per_node=args.gpus_per_node,
        partition=args.partition,
        time=args.time,
        cpus_per_task=args.cpus_per_task,
        overrides=list(args.overrides),
    )
    try:
        path = write_script(job, Path(args.output) if args.output else None)
        sys.stdout.write(f"{path}\n")
        if args.submit:
            sys.stdout.write(submit(path) + "\n")
    except SlurmError as error:
        raise UsageError(str(error)) from None
    return 0


def _cmd_signal(args: argparse.Namespace, signum: int) -> int:
    run_dir = find_run(args.run, resolve_runs_dir(args.runs_dir))
    pid = live_pid(run_dir)
    if pid is None:
        raise RunError(f"{run_dir}: no live engine holds this run (it is finished, stopped or dead)")
    os.kill(pid, signum)
    sys.stdout.write(f"sent {signal.Signals(signum).name} to pid {pid}\n")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``xaxengine`` console script; returns the exit code."""
    parser = _parser()
    args, unknown = parser.parse_known_args(argv)
    stray = [u for u in unknown if u.startswith("-") or args.command not in ("run", "resume", "slurm")]
    if stray:
        parser.error(f"unrecognized arguments: {' '.join(stray)}")
    if unknown:
        args.overrides = [*args.overrides, *unknown]
    if hint := engine_hint(args.command):
        sys.stderr.write(f"xaxengine: error: {hint}\n")
        return EXIT_BAD_INPUT
    commands = {
        "run": _cmd_run,
        "resume": _cmd_resume,
        "ls": _cmd_ls,
        "tail": _cmd_tail,
        "schema": _cmd_schema,
        "devices": _cmd_devices,
        "slurm": _cmd_slurm,
        "stop": lambda a: _cmd_signal(a, signal.SIGTERM),
        "checkpoint": lambda a: _cmd_signal(a, signal.SIGUSR1),
    }
    try:
        return commands[args.command](args)
    except (ConfigError, RunError, UsageError) as error:
        sys.stderr.write(f"xaxengine: error: {error}\n")
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        return 130
