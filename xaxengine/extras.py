"""Whether the ``engine`` extra is installed: the base package is the TUI and the jax-free CLI only.

``pip install xax-tui`` gives ``xax-tui`` and ``xaxengine ls/tail/stop/checkpoint`` (a thin client on a laptop);
training needs ``pip install 'xax-tui[engine]'``. The CLI asks :func:`engine_hint` before a command that imports the
engine, so a thin client gets one line naming the extra instead of a traceback from deep inside a task import.
"""

import importlib.util

ENGINE_EXTRA_INSTALL = "pip install 'xax-tui[engine]'"
ENGINE_COMMANDS = frozenset({"run", "resume", "schema", "devices", "slurm"})  # these import the task or jax
# The import names of the engine extra's distributions (pyproject.toml [project.optional-dependencies] engine).
ENGINE_MODULES = (
    "jax",
    "equinox",
    "optax",
    "orbax",
    "jaxtyping",
    "datasets",
    "psutil",
    "pynvml",
    "tensorboard",
    "tensorboardX",
    "crc32c",
    "grain",
)


def missing_engine_modules() -> list[str]:
    """The engine's top-level modules that cannot be found here (found without importing them)."""
    missing = []
    for name in ENGINE_MODULES:
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):  # a broken install or a module blanked out in sys.modules
            found = False
        if not found:
            missing.append(name)
    return missing


def engine_hint(command: str) -> str | None:
    """One line telling how to install the engine when ``command`` needs it and it is missing, else None."""
    if command not in ENGINE_COMMANDS:
        return None
    missing = missing_engine_modules()
    if not missing:
        return None
    return (
        f"`xaxengine {command}` needs the engine, which is not installed here (no {', '.join(missing)}): "
        f"{ENGINE_EXTRA_INSTALL}"
    )
