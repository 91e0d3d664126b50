"""Writes the generated docs (config reference, TUI keys); with ``--check``, fails if they are out of date."""

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TASK_FILES = ("tasks/mnist.toml", "tasks/mnist_diffusion.toml", "tasks/shakespeare.toml")


def generated() -> dict[Path, str]:
    """The generated files and their contents."""
    from xaxengine.reference import reference_document
    from xaxengine.task.task import SupervisedConfig
    from xaxtui.keys import keys_markdown

    return {
        REPO / "docs" / "config-reference.md": reference_document(SupervisedConfig, [Path(t) for t in TASK_FILES]),
        REPO / "docs" / "keys.md": keys_markdown(),
    }


def main() -> int:
    """Writes (or checks) every generated doc; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="Only compare; exit 1 naming stale files.")
    args = parser.parse_args()
    stale = []
    for path, text in generated().items():
        if path.exists() and path.read_text() == text:
            continue
        stale.append(path.relative_to(REPO))
        if not args.check:
            path.write_text(text)
    if args.check and stale:
        sys.stderr.write(f"out of date (run `make docs`): {', '.join(map(str, stale))}\n")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
