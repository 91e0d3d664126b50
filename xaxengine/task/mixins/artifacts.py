"""Run directory of a task: where events, config, checkpoints and artifacts go."""

import sys
from pathlib import Path

import tomli_w

from xaxengine.config import config_to_dict
from xaxengine.config.sections import Config
from xaxengine.files import atomic_write
from xaxengine.runs import (
    ARTIFACTS_DIR,
    CHECKPOINTS_DIR,
    CONFIG_FILE,
    RUN_FILE_MODE,
    TENSORBOARD_DIR,
    new_run_id,
    resolve_runs_dir,
    task_dir_name,
)
from xaxengine.task.mixins.base import BaseTask


class ArtifactsMixin[ConfigT: Config](BaseTask[ConfigT]):
    """Creates and names the run directory."""

    run_dir: Path

    def prepare_run_dir(self, existing: Path | None = None) -> Path:
        """Creates ``RUNS_DIR/<task>/<run_id>/`` (or reuses ``existing`` on resume) and its sub-folders."""
        if existing is not None:
            run_dir = existing
        else:
            cfg = self.config.artifacts
            run_dir = resolve_runs_dir(cfg.runs_dir) / task_dir_name(type(self).__name__) / (cfg.run_id or new_run_id())
        for sub in (CHECKPOINTS_DIR, TENSORBOARD_DIR, ARTIFACTS_DIR):
            (run_dir / sub).mkdir(parents=True, exist_ok=True)
        self.run_dir = run_dir.resolve()
        return self.run_dir

    def write_resolved_config(self) -> None:
        """Writes the resolved config as ``config.toml`` (the task spec first, so the file can be run again).

        When the task overrides ``get_optimizer``, a comment above ``[optimizer]`` says so (``optimizer = custom``).
        """
        data = {"task": self.task_spec(), **config_to_dict(self.config)}
        text = tomli_w.dumps(data)
        owner = next((c for c in type(self).__mro__ if "get_optimizer" in c.__dict__), None)  # a Script has none
        if owner is not None and not owner.__module__.startswith(
            "xaxengine."
        ):  # the [optimizer] section is not what trains this run
            marker = f"# optimizer = custom: {owner.__qualname__}.get_optimizer builds it; [optimizer] is not read\n"
            text = text.replace("\n[optimizer]\n", f"\n{marker}[optimizer]\n", 1)
        atomic_write(self.run_dir / CONFIG_FILE, text, mode=RUN_FILE_MODE)

    @classmethod
    def task_spec(cls) -> str:
        """The ``module:Class`` string that names this task in a TOML file.

        A task run as ``python -m tasks.mnist`` or ``python tasks/mnist.py`` lives in ``__main__``; it is named by
        its real module instead (the script's path below the working directory, see :func:`script_module`), so
        that its run directory can be resumed and its child processes can import it.
        """
        module = cls.__module__
        if module == "__main__":
            main = sys.modules["__main__"]
            spec = getattr(main, "__spec__", None)
            if spec is not None and spec.name:
                module = spec.name
            elif main_file := getattr(main, "__file__", None):  # ``python my_task.py``
                module = script_module(Path(main_file))
        return f"{module}:{cls.__qualname__}"

    def artifact_path(self, name: str) -> Path:
        """Returns a path under ``RUN_DIR/artifacts/`` for a file to write (its parent folder exists)."""
        path = self.run_dir / ARTIFACTS_DIR / name
        path.parent.mkdir(parents=True, exist_ok=True)
        return path


def script_module(path: Path) -> str:
    """The module name of a script file: its path below the working directory (``tasks/mnist.py`` -> ``tasks.mnist``).

    A script outside the working directory is named by its stem (``python SCRIPT`` imports from its own folder).
    """
    path = path.resolve().with_suffix("")
    try:
        return ".".join(path.relative_to(Path.cwd().resolve()).parts)
    except ValueError:
        return path.name
