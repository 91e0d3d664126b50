"""``xaxengine``: run, resume, list, tail, inspect and control training runs.

Commands that only read run directories (``ls``, ``tail``, ``stop``, ``checkpoint``) never import jax, so they are
fast over SSH. Bad input exits 2 with one line on stderr; a failed run exits 1; an interrupted one 130 or 143.
"""

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from xaxengine import entry, run_commands
from xaxengine.config import ConfigError, config_schema, load_run_spec
from xaxengine.dotted import flatten
from xaxengine.exit_codes import EXIT_BAD_INPUT, EXIT_SIGINT
from xaxengine.extras import engine_hint
from xaxengine.launch_config import RunOptions
from xaxengine.runs import RunError, resolve_runs_dir
from xaxengine.task.launchers import slurm as slurm_launcher


class UsageError(Exception):
    """Bad command-line input; reported as one line, exit 2."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="xaxengine", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="Train a task from a TOML file.", add_help=False)
    run.add_argument("toml", nargs="?", help="Task file, e.g. tasks/mnist.toml.")
    run.add_argument("overrides", nargs="*", help="Dotted overrides: optimizer.lr=3e-4 train.max_steps=500.")
    run.add_argument("--resume", metavar="RUN", help="Continue a run (its directory, run id or 'latest').")
    run.add_argument("--init-from", metavar="RUN", help=entry.INIT_FROM_HELP)
    entry.add_checkpoint_choice(run)
    entry.add_run_flags(run)

    resume = sub.add_parser("resume", help="Continue a stopped run in its own directory.")
    resume.add_argument("run", help="Run directory, run id or 'latest'.")
    resume.add_argument("overrides", nargs="*", help="Dotted overrides, e.g. train.max_steps=2000 to train longer.")
    entry.add_checkpoint_choice(resume)
    entry.add_run_flags(resume, with_help=False)

    ls = sub.add_parser("ls", help="List runs (a Slurm run with its job's state, asked of scontrol once).")
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
    sub.add_parser(
        "sweep", help="Run, resume, join, list or stop an Optuna sweep (xaxengine sweep -h).", add_help=False
    )

    slurm = sub.add_parser(
        "slurm", help="Write (and with --submit, submit and follow) an sbatch script for a multi-process run."
    )
    slurm_launcher.add_slurm_arguments(slurm)

    for name, what in (("stop", "Stop a live run gracefully (checkpoint, then exit)."), ("checkpoint", "Save now.")):
        control = sub.add_parser(name, help=what)
        control.add_argument("run", help="Run directory, run id or 'latest'.")
        control.add_argument("--runs-dir", help="Runs root (default: $XAX_RUNS_DIR or ./runs).")
    return parser


def _cmd_run(args: argparse.Namespace) -> int:
    if args.resume and args.toml and "=" in args.toml:  # `run --resume RUN key=value`: no task file, an override
        args.overrides, args.toml = [args.toml, *args.overrides], None
    if args.help or not (args.toml or args.resume):
        _print_run_help(args.toml)
        return 0 if args.help else EXIT_BAD_INPUT
    if args.resume:
        if args.toml:
            raise UsageError(
                f"--resume {args.resume} continues that run with its own config.toml; drop {args.toml} "
                "(dotted overrides still apply)"
            )
        return entry.resume(args.resume, args)
    if args.from_checkpoint != "latest":
        raise UsageError(
            f"--from {args.from_checkpoint} picks the checkpoint of --resume RUN (for a new run: --init-from RUN:best)"
        )
    options = RunOptions(events_to_stdout=args.events == "-", init_from=entry.init_from_run(args))
    return entry.start(Path(args.toml), args.overrides, args, options)


def _cmd_resume(args: argparse.Namespace) -> int:
    return entry.resume(args.run, args)


def _print_run_help(toml: str | None) -> None:
    lines = [
        "usage: xaxengine run TASK.toml [section.field=value ...] [--runs-dir D] [--run-id ID] [--events -]",
        "                     [--resume RUN [--from best]] [--init-from RUN[:best]] [--layout L] [--num-devices N]",
        "                     [--num-processes N] [--profile-steps START:END] [--debug-nans]",
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


def _cmd_schema(args: argparse.Namespace) -> int:
    if args.markdown:
        from xaxengine.reference import config_markdown

        if args.toml:
            spec = load_run_spec(Path(args.toml))
            config_cls, title = type(spec.config), f"{args.toml} (`{spec.task_spec}`)"
        else:
            from xaxengine.config.sections import SupervisedConfig

            config_cls, title = SupervisedConfig, "Engine sections"
        sys.stdout.write(f"## {title}\n\n{config_markdown(config_cls)}")
        return 0
    if not args.toml:
        raise UsageError("schema: give a task file (or --markdown for the engine's sections)")
    spec = load_run_spec(Path(args.toml))
    from xaxengine.config import config_to_dict

    values = flatten(config_to_dict(spec.config))
    fields = [
        {**entry, "value": values.get(entry["name"], entry["default"])} for entry in config_schema(type(spec.config))
    ]
    sys.stdout.write(json.dumps({"task": spec.task_spec, "fields": fields}) + "\n")
    return 0


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

    if args.sweep:
        return _cmd_slurm_sweep(args)
    if not args.toml:
        raise UsageError("slurm: give a task file, or --sweep SWEEP_TOML")
    spec = load_run_spec(Path(args.toml), args.overrides)  # fails early on a bad file or override
    job = slurm_launcher.SlurmJob(
        toml=Path(args.toml),
        runs_dir=resolve_runs_dir(args.runs_dir),
        run_id=args.run_id or new_run_id(),
        job_name=f"xax-{task_dir_name(spec.task_cls.__name__)}",
        task_dir=task_dir_name(spec.task_cls.__name__),
        **{k: getattr(args, k) for k in slurm_launcher.RESOURCE_FLAGS},
        overrides=list(args.overrides),
    )
    try:
        return slurm_launcher.submit_command(job, args, sys.stdout, sys.stderr)
    except slurm_launcher.SlurmError as error:
        raise UsageError(str(error)) from None


def _cmd_slurm_sweep(args: argparse.Namespace) -> int:
    from xaxengine.sweep.slurm_array import submit_sweep_command

    if args.toml or args.overrides or args.run_id:
        raise UsageError("slurm --sweep: the sweep file names the task and its overrides; give no task file or run id")
    try:
        return submit_sweep_command(args, sys.stdout, sys.stderr)
    except slurm_launcher.SlurmError as error:
        raise UsageError(str(error)) from None


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``xaxengine`` console script; returns the exit code."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["sweep"]:  # its own parser: `sweep FILE`, `sweep ls`, `sweep stop SWEEP`, `sweep --resume SWEEP`
        from xaxengine.sweep.cli import main as sweep_main

        return sweep_main(argv[1:])
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
        "ls": run_commands.cmd_ls,
        "tail": run_commands.cmd_tail,
        "schema": _cmd_schema,
        "devices": _cmd_devices,
        "slurm": _cmd_slurm,
        "stop": run_commands.cmd_stop,
        "checkpoint": run_commands.cmd_checkpoint,
    }
    try:
        return commands[args.command](args)
    except (ConfigError, RunError, UsageError) as error:
        sys.stderr.write(f"xaxengine: error: {error}\n")
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        return EXIT_SIGINT
