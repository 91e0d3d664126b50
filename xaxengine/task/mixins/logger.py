"""Logging: the event stream (JSONL file + optional stdout pipe), human logs, and typed log methods.

Events are the only machine output. Human-readable lines go to stderr (or stdout when events do not) and always to
``stdout.log`` in the run directory.
"""

import logging
import sys
from dataclasses import dataclass
from typing import IO, Literal

import numpy as np

from xaxengine.config import field
from xaxengine.protocol import EventWriter, Kind, last_seq_in_file
from xaxengine.runs import EVENTS_FILE, STDOUT_FILE, TENSORBOARD_DIR
from xaxengine.task.loggers.base import EventBus, LoggerBackend
from xaxengine.task.mixins.artifacts import ArtifactsMixin, ArtifactsMixinConfig

logger = logging.getLogger("xaxengine")


@dataclass(kw_only=True)
class LoggerConfig:
    """Logger backends."""

    tensorboard: bool = field(True, help="Write TensorBoard summaries under RUN_DIR/tensorboard.")
    progress: Literal["auto", "bar", "plain", "off"] = field(
        "auto", help="Human progress output: a rich bar on a terminal ('auto'), plain lines, or nothing."
    )
    level: Literal["debug", "info", "warning", "error"] = field("info", help="Level of human log lines.")


@dataclass(kw_only=True)
class LoggerMixinConfig(ArtifactsMixinConfig):
    """Config section of the logger mixin."""

    logger: LoggerConfig = field(LoggerConfig, help="Logging settings.")


class _EventLogHandler(logging.Handler):
    """Forwards warnings and errors of the engine's Python loggers as ``log`` events."""

    def __init__(self, bus: EventBus) -> None:
        super().__init__(level=logging.WARNING)
        self.bus = bus

    def emit(self, record: logging.LogRecord) -> None:
        self.bus.emit(Kind.LOG, level=record.levelname.lower(), message=record.getMessage())


class LoggerMixin[ConfigT: LoggerMixinConfig](ArtifactsMixin[ConfigT]):
    """Owns the event bus and exposes typed log methods that map onto protocol kinds."""

    bus: EventBus
    _handlers: list[logging.Handler]
    _files: list[IO[bytes]]

    def open_loggers(self, events_to_stdout: bool, max_steps: int | None) -> None:
        """Opens the events file (appending, ``seq`` continuing), the human log and the backends."""
        events_path = self.run_dir / EVENTS_FILE
        events_file = open(events_path, "ab")  # noqa: SIM115 (closed in close_loggers)
        self._files = [events_file]
        sinks: list[IO[bytes]] = [events_file]
        if events_to_stdout:
            sinks.append(sys.stdout.buffer)
        writer = EventWriter(sinks, next_seq=last_seq_in_file(events_path) + 1)
        human_stream = sys.stderr if events_to_stdout else sys.stdout
        self._setup_python_logging(human_stream)
        self.bus = EventBus(writer, self._make_backends(human_stream, max_steps))
        event_handler = _EventLogHandler(self.bus)
        logging.getLogger().addHandler(event_handler)
        self._handlers.append(event_handler)

    def _setup_python_logging(self, stream: IO[str]) -> None:
        level = getattr(logging, self.config.logger.level.upper())
        file_handler = logging.FileHandler(self.run_dir / STDOUT_FILE)
        file_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        stream_handler = logging.StreamHandler(stream)
        stream_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s: %(message)s", "%H:%M:%S"))
        self._handlers = [file_handler, stream_handler]
        root = logging.getLogger()
        root.setLevel(min(level, logging.INFO))
        for handler in self._handlers:
            handler.setLevel(level)
            root.addHandler(handler)
        for noisy in ("absl", "jax._src", "orbax", "datasets", "fsspec", "filelock", "urllib3", "httpx"):
            logging.getLogger(noisy).setLevel(logging.WARNING)

    def _make_backends(self, human_stream: IO[str], max_steps: int | None) -> list[LoggerBackend]:
        from xaxengine.task.loggers.stdout import StdoutBackend

        cfg = self.config.logger
        backends: list[LoggerBackend] = []
        if cfg.tensorboard:
            from xaxengine.task.loggers.tensorboard import TensorBoardBackend

            backends.append(TensorBoardBackend(self.run_dir / TENSORBOARD_DIR, self.run_dir))
        if cfg.progress != "off":
            bar = cfg.progress == "bar" or (cfg.progress == "auto" and human_stream.isatty())
            backends.append(StdoutBackend(human_stream, max_steps, use_progress_bar=bar))
        return backends

    def close_loggers(self) -> None:
        """Flushes and closes every backend, the events file and the log handlers."""
        self.bus.close()
        for f in self._files:
            f.close()
        root = logging.getLogger()
        for handler in self._handlers:
            root.removeHandler(handler)
            handler.close()

    def emit_status(self, state: str, step: int, reason: str | None = None) -> None:
        """Emits a ``status`` event."""
        self.bus.emit(Kind.STATUS, state=state, reason=reason, step=step)

    def log_message(self, level: str, message: str) -> None:
        """Emits a ``log`` event and writes the human log line."""
        logger.log(getattr(logging, level.upper(), logging.INFO), message)
        if getattr(logging, level.upper(), logging.INFO) < logging.WARNING:
            self.bus.emit(Kind.LOG, level=level, message=message)

    def log_scalars(self, step: int, phase: str, values: dict[str, float], **extra: object) -> None:
        """Emits a ``scalars`` event; non-finite values become null."""
        clean = {k: (float(v) if np.isfinite(v) else None) for k, v in values.items()}
        self.bus.emit(Kind.SCALARS, step=step, phase=phase, values=clean, **extra)

    def log_histogram(self, step: int, name: str, values: np.ndarray, bins: int = 64) -> None:
        """Emits a ``histogram`` event of an array's values."""
        finite = np.asarray(values, dtype=np.float64).ravel()
        finite = finite[np.isfinite(finite)]
        if finite.size == 0:
            return
        counts, edges = np.histogram(finite, bins=bins)
        self.bus.emit(Kind.HISTOGRAM, step=step, name=name, bins=edges.tolist(), counts=counts.tolist())

    def log_image(self, step: int, name: str, image: np.ndarray) -> None:
        """Writes an image (HW, HWC; floats in [0, 1] or uint8) as a PNG artifact and emits an ``image`` event."""
        from PIL import Image

        array = np.asarray(image)
        if array.dtype != np.uint8:
            array = (np.clip(array, 0.0, 1.0) * 255).round().astype(np.uint8)
        if array.ndim == 3 and array.shape[-1] == 1:
            array = array[..., 0]
        safe = name.replace("/", "_")
        path = self.artifact_path(f"images/{safe}_{step:08d}.png")
        Image.fromarray(array).save(path)
        self.bus.emit(
            Kind.IMAGE,
            step=step,
            name=name,
            path=str(path.relative_to(self.run_dir)),
            width=int(array.shape[1]),
            height=int(array.shape[0]),
        )

    def log_text(self, step: int, name: str, text: str) -> None:
        """Emits a ``text`` event."""
        self.bus.emit(Kind.TEXT, step=step, name=name, text=text)

    def log_distribution(self, step: int, name: str, mean: float, std: float) -> None:
        """Emits a ``distribution`` event (mean and standard deviation)."""
        self.bus.emit(Kind.DISTRIBUTION, step=step, name=name, mean=float(mean), std=float(std))

    def log_mesh(self, step: int, name: str, vertices: np.ndarray, faces: np.ndarray | None = None) -> None:
        """Writes vertices (and faces) as an NPZ artifact and emits a ``mesh`` event."""
        safe = name.replace("/", "_")
        path = self.artifact_path(f"meshes/{safe}_{step:08d}.npz")
        face_array = np.zeros((0, 3), np.int32) if faces is None else np.asarray(faces)
        np.savez(path, vertices=np.asarray(vertices), faces=face_array)
        self.bus.emit(
            Kind.MESH,
            step=step,
            name=name,
            path=str(path.relative_to(self.run_dir)),
            num_vertices=int(len(vertices)),
            num_faces=int(len(face_array)),
        )
