"""Weights & Biases backend (optional extra ``wandb``): the run's events logged as W&B history.

``[logger.wandb] enabled = true`` turns it on. The W&B run starts lazily on the writer thread at the first event (so
its ~0.5 s start never delays training) under ``RUN_DIR/wandb/``, with the resolved config as the run config.
Scalars are logged as ``PHASE/NAME`` at the step, stats as ``system/*``, histograms as ``wandb.Histogram``, images
from their PNG artifact, text as a one-row ``wandb.Table``, distributions as ``NAME/mean`` and ``NAME/std``, and
meshes as ``wandb.Object3D`` point clouds. W&B's own console capture and system monitor are off: stdout may carry
the event stream, and the engine samples stats itself.
"""

from pathlib import Path
from typing import Any

import numpy as np

from xaxengine.config.sections import WandbConfig
from xaxengine.protocol import Event, Kind
from xaxengine.task.loggers.base import system_scalars
from xaxengine.task.loggers.media import read_ply


class WandbBackend:
    """Logs protocol events to a W&B run."""

    def __init__(self, cfg: WandbConfig, run_dir: Path, run_config: dict[str, Any]) -> None:
        """Imports wandb (raising ImportError when the extra is missing); the run itself starts on the first event.

        Args:
            cfg: The ``[logger.wandb]`` section.
            run_dir: The run directory; W&B files go under ``RUN_DIR/wandb/``.
            run_config: The resolved task config, stored as the W&B run config.
        """
        import wandb

        self.wandb = wandb
        self.cfg = cfg
        self.run_dir = run_dir
        self.run_config = run_config
        self.run: Any = None
        self.start_failed = False
        self.step = 0

    def _start(self) -> Any:
        wandb = self.wandb
        settings = wandb.Settings(console="off", x_disable_stats=True, disable_git=True, save_code=False, silent=True)
        return wandb.init(
            project=self.cfg.project,
            entity=self.cfg.entity or None,
            name=self.cfg.name or self.run_dir.name,
            id=None if self.cfg.mode == "disabled" else self.run_dir.name.replace("-", ""),
            tags=list(self.cfg.tags),
            mode=self.cfg.mode,
            dir=str(self.run_dir),
            config=self.run_config,
            settings=settings,
            resume="allow",
        )

    def write(self, event: Event) -> None:
        """Logs one event at its step (or the latest training step, for stats)."""
        if self.run is None:
            if self.start_failed:
                return
            self.start_failed = True  # one try only: a failed start (no login, no network) is logged once
            self.run = self._start()
            self.start_failed = False
        if event.get("step") is not None:
            self.step = max(self.step, int(event["step"]))
        data = self._convert(event)
        if data:
            self.run.log(data, step=self.step)

    def _convert(self, event: Event) -> dict[str, Any]:
        wandb, kind, name = self.wandb, event["kind"], event.get("name", "")
        if kind == Kind.SCALARS:
            phase = event.get("phase") or "train"
            data = {f"{phase}/{k}": v for k, v in (event.get("values") or {}).items() if v is not None}
            if phase == "train" and event.get("steps_per_s") is not None:
                data["train/steps_per_s"] = event["steps_per_s"]
            return data
        if kind == Kind.STATS:
            return {f"system/{k}": v for k, v in system_scalars(event).items()}
        if kind == Kind.DISTRIBUTION:
            return {f"{name}/{k}": event[k] for k in ("mean", "std") if event.get(k) is not None}
        media: Any = None
        if kind == Kind.HISTOGRAM:
            media = wandb.Histogram(np_histogram=(np.asarray(event["counts"]), np.asarray(event["bins"])))
        elif kind == Kind.IMAGE:
            media = wandb.Image(str(self.run_dir / event["path"]))
        elif kind == Kind.VIDEO:
            media = wandb.Video(str(self.run_dir / event["path"]), format="gif")  # the GIF holds its frame rate
        elif kind == Kind.TEXT:
            media = wandb.Table(columns=["step", "text"], data=[[self.step, str(event.get("text"))]])
        elif kind == Kind.MESH:
            vertices, _, colors = read_ply(self.run_dir / event["path"])
            points = vertices if colors is None else np.concatenate([vertices, colors.astype(np.float32)], axis=-1)
            media = wandb.Object3D(points)
        return {} if media is None else {name: media}

    def close(self) -> None:
        """Finishes the W&B run (writes everything to disk, or uploads it online)."""
        if self.run is not None:
            self.run.finish()
            self.run = None
