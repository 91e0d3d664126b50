"""The entry point of an engine child process: ``python -m xaxengine.task.launchers.child_main CONFIG.toml``.

Loads the resolved config the launcher wrote and runs the task under its layout (in the child, the layout's
launcher runs it in-process). Kept apart from :mod:`~xaxengine.task.launchers.child` because it dispatches through
the launcher registry, which imports the launchers that import ``child``.
"""

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from xaxengine.config import ConfigError, load_run_spec
from xaxengine.exit_codes import EXIT_BAD_INPUT
from xaxengine.launch_config import RunOptions
from xaxengine.task.launchers import launch
from xaxengine.task.launchers.child import die_with_parent


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of a child: loads the resolved config and runs the task under its layout."""
    parser = argparse.ArgumentParser(prog="xaxengine-child")
    parser.add_argument("toml")
    parser.add_argument("--events", action="store_true")
    parser.add_argument("--resume-dir")
    parser.add_argument("--init-from")
    args = parser.parse_args(argv)
    die_with_parent()
    options = RunOptions(
        events_to_stdout=args.events,
        resume_dir=Path(args.resume_dir) if args.resume_dir else None,
        init_from=Path(args.init_from) if args.init_from else None,
    )
    try:
        spec = load_run_spec(args.toml)
        return launch(spec.task_cls, spec.config, options)
    except ConfigError as error:
        sys.stderr.write(f"xaxengine: error: {error}\n")
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
