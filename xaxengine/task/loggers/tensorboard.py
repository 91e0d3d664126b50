"""TensorBoard backend (tensorboardX): scalars, system stats, histograms, images and text."""

from pathlib import Path

import numpy as np

from xaxengine.protocol import Event, Kind


class TensorBoardBackend:
    """Writes events as TensorBoard summaries under ``RUN_DIR/tensorboard/``."""

    def __init__(self, log_dir: Path, run_dir: Path) -> None:
        """Creates the summary writer (tensorboardX is imported here, lazily)."""
        from tensorboardX import SummaryWriter

        self.run_dir = run_dir
        self.writer = SummaryWriter(logdir=str(log_dir), flush_secs=10)

    def write(self, event: Event) -> None:
        """Converts one protocol event into summaries."""
        kind, step = event["kind"], int(event.get("step") or 0)
        if kind == Kind.SCALARS:
            for name, value in (event.get("values") or {}).items():
                if value is not None:
                    self.writer.add_scalar(f"{event.get('phase', 'train')}/{name}", value, step, walltime=event["t"])
        elif kind == Kind.STATS:
            seq = int(event["seq"])
            self.writer.add_scalar("system/cpu_percent", event.get("cpu_percent") or 0.0, seq, walltime=event["t"])
            self.writer.add_scalar("system/rss_mb", (event.get("rss_bytes") or 0) / 2**20, seq, walltime=event["t"])
            for gpu in event.get("gpus") or []:
                for key in ("util_percent", "mem_used_bytes", "temp_c", "power_w"):
                    if gpu.get(key) is not None:
                        self.writer.add_scalar(f"system/gpu{gpu['index']}/{key}", gpu[key], seq, walltime=event["t"])
        elif kind == Kind.HISTOGRAM:
            self._histogram(event, step)
        elif kind == Kind.IMAGE:
            from PIL import Image

            image = np.asarray(Image.open(self.run_dir / event["path"]).convert("RGB"))
            self.writer.add_image(event["name"], image, step, dataformats="HWC", walltime=event["t"])
        elif kind == Kind.TEXT:
            self.writer.add_text(event["name"], str(event.get("text", "")), step, walltime=event["t"])
        elif kind == Kind.DISTRIBUTION:
            self.writer.add_scalar(f"{event['name']}/mean", event.get("mean") or 0.0, step, walltime=event["t"])
            self.writer.add_scalar(f"{event['name']}/std", event.get("std") or 0.0, step, walltime=event["t"])

    def _histogram(self, event: Event, step: int) -> None:
        edges = np.asarray(event["bins"], dtype=np.float64)
        counts = np.asarray(event["counts"], dtype=np.float64)
        centers = (edges[:-1] + edges[1:]) / 2
        total = counts.sum()
        if total <= 0:
            return
        self.writer.add_histogram_raw(
            event["name"],
            min=float(edges[0]),
            max=float(edges[-1]),
            num=float(total),
            sum=float((centers * counts).sum()),
            sum_squares=float((centers**2 * counts).sum()),
            bucket_limits=edges[1:].tolist(),
            bucket_counts=counts.tolist(),
            global_step=step,
            walltime=event["t"],
        )

    def close(self) -> None:
        """Flushes and closes the event file."""
        self.writer.close()
