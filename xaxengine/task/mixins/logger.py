"""Logging: the event stream (JSONL file + optional stdout pipe), human logs, and typed log methods.

Events are the only machine output. Human-readable lines go to stderr (or stdout when events do not) and always to
``stdout.log`` in the run directory. The log methods copy their arrays to the host on the calling thread and leave
everything else (histograms, PNG and PLY encoding, every backend) to the event bus's writer thread, so a log call
never stalls a training step for longer than that copy. In multi-process runs only process 0 writes events and feeds
the backends; the other ranks write their human log to ``stdout.rank<k>.log`` (and stderr).
"""

import atexit
import contextlib
import logging
import math
import sys
from collections.abc import Sequence
from typing import IO

import equinox as eqx
import jax
import numpy as np
from jaxtyping import PyTree

from xaxengine.config import config_to_dict
from xaxengine.config.sections import Config
from xaxengine.event_file import ENGINE_RESERVE_BYTES, EventFile
from xaxengine.protocol import EventWriter, Kind, last_seq_in_file
from xaxengine.runs import EVENTS_FILE, STDOUT_FILE, TENSORBOARD_DIR
from xaxengine.task.loggers import media
from xaxengine.task.loggers.base import EventBus, LoggerBackend
from xaxengine.task.mixins.artifacts import ArtifactsMixin

logger = logging.getLogger("xaxengine")


class _EventLogHandler(logging.Handler):
    """Forwards warnings and errors of the engine's Python loggers as ``log`` events."""

    def __init__(self, bus: EventBus) -> None:
        super().__init__(level=logging.WARNING)
        self.bus = bus

    def emit(self, record: logging.LogRecord) -> None:
        self.bus.emit(Kind.LOG, level=record.levelname.lower(), message=record.getMessage())


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


class LoggerMixin[ConfigT: Config](ArtifactsMixin[ConfigT]):
    """Owns the event bus and exposes typed log methods that map onto protocol kinds."""

    bus: EventBus
    _handlers: list[logging.Handler]
    _files: list[EventFile]

    def open_loggers(self, events_to_stdout: bool, max_steps: int | None) -> None:
        """Opens the events file (appending, ``seq`` continuing), the human log and the backends.

        The bus is also closed at interpreter exit (``atexit``), so queued events reach the backends even when the
        training loop never gets to :meth:`close_loggers`.
        """
        import jax

        rank = jax.process_index()
        human_stream = sys.stderr if events_to_stdout or rank else sys.stdout
        if rank:  # multi-process: only process 0 writes events and feeds the backends
            self._files = []
            self._setup_python_logging(human_stream, f"stdout.rank{rank}.log")
            self.bus = EventBus(EventWriter([]), [])
        else:
            events_file = EventFile(self.run_dir / EVENTS_FILE, ENGINE_RESERVE_BYTES)  # cuts a partial line first
            self._files = [events_file]
            sinks: list[IO[bytes]] = [sys.stdout.buffer] if events_to_stdout else []
            writer = EventWriter(sinks, next_seq=last_seq_in_file(events_file.path) + 1, files=[events_file])
            self._setup_python_logging(human_stream)
            self.bus = EventBus(writer, self._make_backends(human_stream, max_steps))
            if events_file.cut_bytes:
                cut = f"{events_file.path}: cut a partial last line ({events_file.cut_bytes} bytes) before appending"
                self.bus.emit(Kind.LOG, level="warning", message=cut)
        atexit.register(self.bus.close)
        event_handler = _EventLogHandler(self.bus)
        logging.getLogger().addHandler(event_handler)
        self._handlers.append(event_handler)

    def _setup_python_logging(self, stream: IO[str], file_name: str = STDOUT_FILE) -> None:
        level = getattr(logging, self.config.logger.level.upper())
        file_handler = logging.FileHandler(self.run_dir / file_name)
        file_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        stream_handler = logging.StreamHandler(stream)
        stream_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s: %(message)s", "%H:%M:%S"))
        self._handlers = [file_handler, stream_handler]
        root = logging.getLogger()
        root.setLevel(min(level, logging.INFO))
        for handler in self._handlers:
            handler.setLevel(level)
            root.addHandler(handler)
        for noisy in ("absl", "jax._src", "orbax", "datasets", "fsspec", "filelock", "urllib3", "httpx", "wandb"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
        # Orbax's background threads leave "Event loop is closed" reports behind a failed save; the engine reports
        # the failure itself (checkpoint_failed), in one line.
        logging.getLogger("asyncio").setLevel(logging.CRITICAL)
        logging.raiseExceptions = False  # a log file on a full disk must not print a traceback per line

    def _make_backends(self, human_stream: IO[str], max_steps: int | None) -> list[LoggerBackend]:
        from xaxengine.task.loggers.stdout import StdoutBackend

        cfg = self.config.logger
        backends: list[LoggerBackend] = []
        if cfg.tensorboard:
            from xaxengine.task.loggers.tensorboard import TensorBoardBackend

            backends.append(TensorBoardBackend(self.run_dir / TENSORBOARD_DIR, self.run_dir))
        if cfg.wandb.enabled:
            try:
                from xaxengine.task.loggers.wandb import WandbBackend

                backends.append(WandbBackend(cfg.wandb, self.run_dir, config_to_dict(self.config)))
            except ImportError:
                logger.warning("logger.wandb.enabled is set but wandb is not installed (pip install 'xax-tui[wandb]')")
        if cfg.progress != "off":
            bar = cfg.progress == "bar" or (cfg.progress == "auto" and human_stream.isatty())
            backends.append(
                StdoutBackend(human_stream, max_steps, use_progress_bar=bar, table_every_n=cfg.table_every_n)
            )
        return backends

    def close_loggers(self) -> None:
        """Drains the writer thread, closes every backend, the events file and the log handlers."""
        self.bus.close()
        atexit.unregister(self.bus.close)
        for f in self._files:
            f.close()
        root = logging.getLogger()
        for handler in self._handlers:
            root.removeHandler(handler)
            with contextlib.suppress(OSError):  # a log file on a full disk: its last flush fails, already reported
                handler.close()

    def emit_status(self, state: str, step: int, reason: str | None = None) -> None:
        """Emits a ``status`` event."""
        self.bus.emit(Kind.STATUS, state=state, reason=reason, step=step)

    def emit_busy(self, what: str | None, step: int) -> None:
        """Emits a ``busy`` event: the loop is doing ``what`` between steps (None: back to training)."""
        self.bus.emit(Kind.BUSY, what=what, step=step)

    def log_message(self, level: str, message: str) -> None:
        """Emits a ``log`` event and writes the human log line."""
        logger.log(getattr(logging, level.upper(), logging.INFO), message)
        if getattr(logging, level.upper(), logging.INFO) < logging.WARNING:
            self.bus.emit(Kind.LOG, level=level, message=message)

    def log_scalars(self, step: int, phase: str, values: dict[str, float], **extra: object) -> None:
        """Emits a ``scalars`` event; non-finite values become null."""
        clean = {k: (float(v) if math.isfinite(v) else None) for k, v in values.items()}
        self.bus.emit(Kind.SCALARS, step=step, phase=phase, values=clean, **extra)

    def log_histogram(self, step: int, name: str, values: np.ndarray, bins: int = 64) -> None:
        """Emits a ``histogram`` event of an array's finite values (binned on the writer thread)."""
        host = np.array(values)

        def job() -> None:
            result = media.histogram(host, bins)
            if result is not None:
                self.bus.emit(Kind.HISTOGRAM, step=step, name=name, bins=result[0], counts=result[1])

        self.bus.submit(job)

    def log_tree_histograms(self, step: int, prefix: str, tree: PyTree, max_leaves: int = 16) -> None:
        """Logs one histogram per array leaf of a pytree (weights, gradients), named ``prefix/<path>``."""
        leaves = [(p, x) for p, x in jax.tree_util.tree_leaves_with_path(tree) if eqx.is_inexact_array(x)]
        for path, leaf in leaves[:max_leaves]:
            name = jax.tree_util.keystr(path).strip(".").replace("[", "_").replace("]", "").replace(".", "/")
            self.log_histogram(step, f"{prefix}/{name}", np.asarray(leaf))

    def log_image(self, step: int, name: str, image: np.ndarray, label: str | None = None) -> None:
        """Writes an image as a PNG artifact and emits an ``image`` event.

        Args:
            step: Training step.
            name: Tag, e.g. ``samples/digits``.
            image: HW, HWC or CHW; floats in [0, 1] (clipped) or uint8.
            label: Text drawn under the image (a newline starts another line) and recorded in the event's ``labels``.
        """
        host = np.array(image)
        if label is None:
            self.bus.submit(lambda: self._emit_image(step, name, host))
        else:
            self.bus.submit(lambda: self._emit_image(step, name, media.labeled(host, label), [label]))

    def log_images(self, step: int, name: str, images: np.ndarray, ncols: int | None = None) -> None:
        """Tiles a batch of images into one grid PNG and emits one ``image`` event.

        Args:
            step: Training step.
            name: Tag.
            images: NHW or NHWC; floats in [0, 1] or uint8.
            ncols: Tiles per row; ``ceil(sqrt(N))`` if omitted.
        """
        host = np.array(images)
        self.bus.submit(lambda: self._emit_image(step, name, media.image_grid(host, ncols)))

    def log_labeled_images(
        self, step: int, name: str, images: np.ndarray, labels: Sequence[str], ncols: int | None = None
    ) -> None:
        """Tiles images into one grid PNG with each label drawn under its image; the event lists the ``labels``.

        Args:
            step: Training step.
            name: Tag.
            images: NHW or NHWC; floats in [0, 1] or uint8.
            labels: One string per image (a newline starts another line), e.g. prediction and truth on two lines.
            ncols: Tiles per row; ``ceil(sqrt(N))`` if omitted.

        Raises:
            ValueError: Not one label per image.
        """
        host, texts = np.array(images), [str(label) for label in labels]
        if len(texts) != len(host):
            raise ValueError(f"log_labeled_images: {len(host)} images but {len(texts)} labels")
        self.bus.submit(lambda: self._emit_image(step, name, media.labeled_grid(host, texts, ncols), texts))

    def _emit_image(self, step: int, name: str, image: np.ndarray, labels: list[str] | None = None) -> None:
        path = self.artifact_path(f"images/{_safe(name)}_{step:08d}.png")
        width, height = media.write_png(path, image)
        rel = str(path.relative_to(self.run_dir))
        extra = {} if labels is None else {"labels": labels}
        self.bus.emit(Kind.IMAGE, step=step, name=name, path=rel, width=width, height=height, **extra)

    def log_video(self, step: int, name: str, frames: np.ndarray, fps: float = 10.0) -> None:
        """Writes frames as a looping animated GIF artifact and emits a ``video`` event.

        Args:
            step: Training step.
            name: Tag, e.g. ``rollouts/policy``.
            frames: THW, THWC or TCHW (C in 1, 3, 4); floats in [0, 1] (clipped) or uint8.
            fps: Frames per second.

        Raises:
            ValueError: Frames that are not a sequence of images, or fps not positive.
        """
        host = np.array(frames)
        if host.ndim not in (3, 4) or len(host) == 0 or fps <= 0:
            raise ValueError(f"log_video: expected frames (T, H, W[, C]) and fps > 0, got {host.shape} at {fps} fps")

        def job() -> None:
            path = self.artifact_path(f"videos/{_safe(name)}_{step:08d}.gif")
            width, height, count = media.write_gif(path, host, fps)
            rel = str(path.relative_to(self.run_dir))
            self.bus.emit(
                Kind.VIDEO, step=step, name=name, path=rel, width=width, height=height, frames=count, fps=float(fps)
            )

        self.bus.submit(job)

    def log_text(self, step: int, name: str, text: str) -> None:
        """Emits a ``text`` event."""
        self.bus.emit(Kind.TEXT, step=step, name=name, text=text)

    def log_distribution(
        self,
        step: int,
        name: str,
        mean: float | None = None,
        std: float | None = None,
        samples: np.ndarray | None = None,
    ) -> None:
        """Emits a ``distribution`` event from a mean and standard deviation, or from samples (summarized then).

        Args:
            step: Training step.
            name: Tag.
            mean: Mean of the distribution (with ``std``).
            std: Standard deviation.
            samples: Draws to summarize instead; their finite values' mean and std are logged.
        """
        if samples is None:
            if mean is None or std is None:
                raise ValueError("log_distribution needs mean and std, or samples")
            self.bus.emit(Kind.DISTRIBUTION, step=step, name=name, mean=float(mean), std=float(std))
            return
        host = np.array(samples, dtype=np.float64).ravel()

        def job() -> None:
            finite = host[np.isfinite(host)]
            if finite.size:
                self.bus.emit(
                    Kind.DISTRIBUTION, step=step, name=name, mean=float(finite.mean()), std=float(finite.std())
                )

        self.bus.submit(job)

    def log_mesh(
        self,
        step: int,
        name: str,
        vertices: np.ndarray,
        faces: np.ndarray | None = None,
        colors: np.ndarray | None = None,
    ) -> None:
        """Writes a triangle mesh (or point cloud) as a PLY artifact and emits a ``mesh`` event.

        Args:
            step: Training step.
            name: Tag.
            vertices: (V, 3) positions.
            faces: (F, 3) triangle vertex indices, or None for a point cloud.
            colors: (V, 3) RGB per vertex (uint8 or floats in [0, 1]), or None.
        """
        verts = np.array(vertices, dtype=np.float32).reshape(-1, 3)
        tris = None if faces is None else np.array(faces, dtype=np.int32).reshape(-1, 3)
        rgb = None if colors is None else np.array(colors)

        def job() -> None:
            path = self.artifact_path(f"meshes/{_safe(name)}_{step:08d}.ply")
            media.write_ply(path, verts, tris, rgb)
            rel = str(path.relative_to(self.run_dir))
            num_faces = 0 if tris is None else len(tris)
            self.bus.emit(Kind.MESH, step=step, name=name, path=rel, num_vertices=len(verts), num_faces=num_faces)

        self.bus.submit(job)
