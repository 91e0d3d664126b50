"""Sample from a trained run's latest (or a chosen) checkpoint.

``python -m tasks.sample RUN --prompt "ROMEO:" --tokens 200`` prints text from a ``tasks.shakespeare`` run;
``python -m tasks.sample RUN --out grid.png`` writes a digit grid (one row per digit) from a ``tasks.mnist_diffusion``
run. ``RUN`` is a run directory, a run id under ``--runs-dir`` or ``latest``. The task is rebuilt from the run's
``config.toml`` and its train state restored with Orbax into the shapes of a freshly initialised one.
"""

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import equinox as eqx

from xaxengine.catalog import find_run
from xaxengine.config import load_run_spec
from xaxengine.runs import CONFIG_FILE, resolve_runs_dir


def load_trained(run_dir: str | Path, step: int | None = None) -> tuple[Any, Any, int]:
    """Rebuilds a run's task and restores its model from a checkpoint.

    Args:
        run_dir: The run directory (holding ``config.toml`` and ``checkpoints/``).
        step: Checkpoint step; the latest when None.

    Returns:
        The task (with ``run_dir`` set), the trained model and the checkpoint step.

    Raises:
        FileNotFoundError: The run has no checkpoint.
    """
    run_dir = Path(run_dir).resolve()
    spec = load_run_spec(run_dir / CONFIG_FILE)
    task = spec.task_cls(spec.config)
    task.run_dir = run_dir
    state, static, _ = task.init_state()
    try:
        step = task.latest_checkpoint_step() if step is None else step
        if step is None:
            raise FileNotFoundError(f"no checkpoint under {task.checkpoint_dir}")
        restored, _ = task.restore_checkpoint(step, state)
    finally:
        task.close_checkpoints()
    return task, eqx.combine(restored.params, static), step


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tasks.sample", description=__doc__.splitlines()[0])
    parser.add_argument("run", help="Run directory, run id or 'latest'.")
    parser.add_argument("--runs-dir", help="Runs root for run ids (default: $XAX_RUNS_DIR or ./runs).")
    parser.add_argument("--step", type=int, help="Checkpoint step (default: the latest).")
    parser.add_argument("--seed", type=int, default=0, help="Sampling seed.")
    parser.add_argument("--prompt", default="ROMEO:\n", help="Text prompt (language models).")
    parser.add_argument("--tokens", type=int, default=200, help="Characters to generate (language models).")
    parser.add_argument("--temperature", type=float, help="Sampling temperature (default: the run's).")
    parser.add_argument("--per-class", type=int, default=8, help="Samples per digit (diffusion).")
    parser.add_argument("--out", type=Path, help="PNG path of the digit grid (diffusion; default under the run).")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code (2 on bad input)."""
    from tasks.mnist_diffusion import MnistDiffusionTask
    from tasks.shakespeare import ShakespeareTask
    from xaxengine.runs import RunError
    from xaxengine.task.loggers import media

    args = _parser().parse_args(argv)
    try:
        task, model, step = load_trained(find_run(args.run, resolve_runs_dir(args.runs_dir)), args.step)
    except (RunError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if isinstance(task, ShakespeareTask):
        if args.tokens < 1:
            print("error: --tokens must be at least 1", file=sys.stderr)
            return 2
        text = task.sample_text(model, args.prompt, args.tokens, seed=args.seed, temperature=args.temperature)
        sys.stdout.write(text + "\n")
        return 0
    if isinstance(task, MnistDiffusionTask):
        images = task.sample_grid(model, args.per_class, seed=args.seed)
        out = args.out or task.run_dir / "artifacts" / f"samples_{step:08d}.png"
        out.parent.mkdir(parents=True, exist_ok=True)
        media.write_png(out, media.image_grid(images, ncols=args.per_class))
        sys.stdout.write(f"{out}\n")
        return 0
    print(f"error: {type(task).__name__} has no sampler", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
