"""The ``xax-tui`` command line (argparse only; :func:`xaxtui.app.build_app` turns it into the app)."""

import argparse
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from xaxtui.graphics import GraphicsError, mode_from_env
from xaxtui.remote import RemoteError, RemoteHost, RemoteTarget


@dataclass
class TuiArgs:
    """The parsed command line.

    Attributes:
        target: A runs dir, a run dir or a task ``.toml`` (None: the runs dir).
        runs_dir: ``--runs-dir`` (None: from the target or the environment).
        remotes: The ``--remote`` hosts.
        remote_cmd: The engine command on remote hosts.
        graphics: How images draw (``$XAX_TUI_GRAPHICS``: halfblock, kitty, sixel or auto).
    """

    target: Path | None
    runs_dir: Path | None
    remotes: list[RemoteHost]
    remote_cmd: str
    graphics: str = "halfblock"


def parser() -> argparse.ArgumentParser:
    """The argument parser of ``xax-tui``."""
    parser = argparse.ArgumentParser(
        prog="xax-tui",
        description="Terminal experiment runner for xaxengine: edit task configs, launch runs, watch them live.",
        epilog="Keys: press ? inside the app. $XAX_ENGINE_CMD (or $XAX_ENGINE) overrides the engine command "
        "(default: the xaxengine next to this Python, then PATH); "
        "$XAX_SSH_OPTS adds ssh options for --remote (e.g. '-i ~/.ssh/gpu_key'); "
        "$XAX_TUI_GRAPHICS picks how images draw: halfblock (default), kitty, sixel, or auto (asks the terminal).",
    )
    parser.add_argument(
        "target",
        nargs="?",
        type=Path,
        help="a runs dir (picker), a run dir (waited for when it does not exist yet), or a task .toml",
    )
    parser.add_argument("--runs-dir", type=Path, help="where launched runs go (default: $XAX_RUNS_DIR or ./runs)")
    parser.add_argument(
        "--remote",
        action="append",
        default=[],
        metavar="[USER@]HOST[:PORT][:/PATH/TO/RUNS]",
        help="also list the runs on this ssh host (repeatable); uses the system ssh with BatchMode",
    )
    parser.add_argument(
        "--remote-cmd",
        default=os.environ.get("XAX_REMOTE_ENGINE") or "xaxengine",
        help="the engine command on remote hosts, e.g. '~/venv/bin/xaxengine' (default: $XAX_REMOTE_ENGINE or "
        "xaxengine)",
    )
    return parser


def parse_args(argv: list[str] | None = None) -> TuiArgs:
    """Parses ``argv``; a missing task file or a malformed ``--remote`` exits 2 with one line (argparse's error).

    A bad ``$XAX_TUI_GRAPHICS`` exits 2 with one line and no usage (it is no argument).
    """
    p = parser()
    args = p.parse_args(argv)
    try:
        graphics = mode_from_env()
    except GraphicsError as error:
        print(f"xax-tui: error: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    if args.target is not None and args.target.suffix == ".toml" and not args.target.exists():
        p.error(f"no such file or directory: {args.target}")
    try:
        remotes = [RemoteHost(RemoteTarget.parse(spec), remote_cmd=args.remote_cmd) for spec in args.remote]
    except RemoteError as error:
        p.error(str(error))
    return TuiArgs(args.target, args.runs_dir, remotes, args.remote_cmd, graphics)
