"""Loading a trained run back, without training: :func:`load_task` and :func:`load_ckpt` (``xax.load_ckpt``).

``path`` is a run directory (its ``config.toml`` and newest checkpoint), a checkpoint folder of it
(``RUN_DIR/checkpoints`` or ``RUN_DIR/best_checkpoint``: its newest step) or one step folder
(``RUN_DIR/checkpoints/500``: that step, with the config recorded in the checkpoint itself). The task class is the
one the run recorded (``task = "module:Class"``); the model is rebuilt from it and the config, then the arrays are
restored into its shapes on this process's default device (CPU is enough)::

    model = xax.load_ckpt("runs/mnist/20261125-110115-f3ab", part="model")
    config = xax.load_ckpt("runs/mnist/20261125-110115-f3ab/best_checkpoint", part="config")
"""

from pathlib import Path
from typing import Any, Literal

import equinox as eqx
import jax

from xaxengine.checkpoint_choice import step_folders
from xaxengine.config import build_config, load_run_spec
from xaxengine.config.build import import_object
from xaxengine.runs import BEST_CHECKPOINT_DIR, CHECKPOINTS_DIR, CONFIG_FILE, RunError
from xaxengine.task.task import Task

Part = Literal["model", "opt_state", "config", "state", "ema"]
PARTS = ("model", "opt_state", "config", "state", "ema")


def _locate(path: Path) -> tuple[Path, Path | None]:
    """(run dir, step folder or None for "the newest of the run") of a run dir, checkpoints folder or step folder.

    Raises:
        RunError: Nothing there looks like a run or a checkpoint.
    """
    if (path / CONFIG_FILE).exists():
        return path, None
    if path.name in (CHECKPOINTS_DIR, BEST_CHECKPOINT_DIR):
        steps = step_folders(path)
        if not steps:
            raise RunError(f"{path}: no checkpoint in this folder")
        return path.parent, path / str(steps[-1])
    if path.name.isdigit() and (path / "meta").is_dir():
        return path.parent.parent, path
    raise RunError(f"{path}: not a run directory nor a checkpoint folder (no {CONFIG_FILE}, no step folder)")


def _read_meta(step_dir: Path) -> dict[str, Any]:
    import orbax.checkpoint as ocp

    return dict(ocp.JsonCheckpointHandler().restore(step_dir.resolve() / "meta"))  # ty: ignore[invalid-argument-type]


def load_task(path: str | Path) -> Task[Any]:
    """The task instance a run was trained with: its recorded class, built from its resolved config.

    A step folder gives the config recorded in that checkpoint; otherwise the run's ``config.toml``. The task's
    ``run_dir`` is set (nothing is written).

    Raises:
        RunError: No run or checkpoint at ``path``.
        ConfigError: The task class cannot be imported, or the config no longer fits it.
    """
    run_dir, step_dir = _locate(Path(path).resolve())
    task_cls: Any
    if step_dir is not None and not (run_dir / CONFIG_FILE).exists():
        meta = _read_meta(step_dir)
        task_cls = import_object(meta["task"], search_paths=[Path.cwd()])
        config = build_config(task_cls.config_class, meta["config"], source=str(step_dir))
    elif step_dir is not None:
        meta = _read_meta(step_dir)
        spec = load_run_spec(run_dir / CONFIG_FILE)
        task_cls, config = spec.task_cls, build_config(type(spec.config), meta["config"], source=str(step_dir))
    else:
        spec = load_run_spec(run_dir / CONFIG_FILE)
        task_cls, config = spec.task_cls, spec.config
    task = task_cls(config)
    task.run_dir = run_dir
    return task


def load_ckpt(path: str | Path, part: Part = "model") -> Any:
    """One part of a run's checkpoint, on the default device, with no training and no run-dir writes.

    Args:
        path: A run directory, its ``checkpoints``/``best_checkpoint`` folder, or one step folder.
        part: ``model`` (the Equinox model: the recorded task's ``get_model`` with the trained arrays), ``ema`` (the
            same with the EMA weights, under ``train.ema_decay``), ``opt_state``, ``state`` (the whole
            ``TrainState``) or ``config`` (the resolved config dataclass).

    Raises:
        RunError: No run or checkpoint at ``path``, or the run has no checkpoint.
        ValueError: An unknown part, or ``ema`` of a run trained without one.
    """
    if part not in PARTS:
        raise ValueError(f"part must be one of {', '.join(PARTS)}, got {part!r}")
    task = load_task(path)
    if part == "config":
        return task.config
    run_dir, step_dir = _locate(Path(path).resolve())
    folder = step_dir.parent if step_dir is not None else run_dir / CHECKPOINTS_DIR
    steps = step_folders(folder)
    step = int(step_dir.name) if step_dir is not None else (steps[-1] if steps else None)
    if step is None:
        raise RunError(f"{run_dir}: no checkpoint in {CHECKPOINTS_DIR}/")
    abstract, static, _ = task.init_state(abstract=True)
    device = jax.sharding.SingleDeviceSharding(jax.devices()[0])
    target = jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=device), abstract)
    manager = task.open_checkpoint_manager(folder)
    try:
        state, _ = task.restore_checkpoint(step, target, manager)
    finally:
        manager.close()
    if part == "state":
        return state
    if part == "opt_state":
        return state.opt_state
    if part == "ema":
        if state.ema is None:
            raise ValueError(f"{folder / str(step)}: no EMA weights (trained with train.ema_decay = 0)")
        return eqx.combine(state.ema, static)
    return eqx.combine(state.params, static)
