"""Writes a small finished run dir with media: real PNGs (Pillow), text samples, a histogram, a missing and a corrupt
artifact, and the ``busy`` events the engine emits around ``log_heavy``."""

import json
from pathlib import Path

from PIL import Image

T0 = 1764050000.0
COLORS = {100: (220, 30, 30), 200: (30, 200, 40), 300: (40, 60, 230)}  # one color per step, told apart on screen


def _png(path: Path, color: tuple[int, int, int]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.new("RGB", (32, 16), color)
    for y in range(16):  # a vertical gradient (each half-block's two pixels differ) and a white bar on the left
        shade = tuple(c * (y + 4) // 20 for c in color)
        for x in range(32):
            image.putpixel((x, y), (255, 255, 255) if x < 8 else shade)
    image.save(path)


def media_events(run_dir: Path, finished: bool = True) -> list[dict]:
    """The events of the run (artifact files written under ``run_dir``)."""
    events: list[dict] = [
        {"kind": "run_start", "run_id": "20261201-120000-me01", "task": "tasks.diffusion:DiffusionTask"},
        {"kind": "status", "state": "running", "reason": None, "step": 0},
    ]
    events[0].update(run_dir=str(run_dir), config={}, max_steps=300, resumed_from_step=None)
    for step in (100, 200, 300):
        events.append({"kind": "scalars", "step": step, "phase": "train", "values": {"loss": 1.0 / step}})
        events.append({"kind": "busy", "what": "log_heavy", "step": step})
        rel = f"artifacts/samples/{step:08d}.png"
        _png(run_dir / rel, COLORS[step])
        events.append({"kind": "image", "step": step, "name": "samples", "path": rel, "width": 32, "height": 16})
        text = f"ROMEO:\nsample at step {step}, thou art more lovely"
        events.append({"kind": "text", "step": step, "name": "shakespeare", "text": text})
        events.append({"kind": "busy", "what": None, "step": step})
    counts = [1, 3, 9, 20, 9, 3, 1, 0]
    events.append({"kind": "histogram", "step": 300, "name": "grads", "bins": list(range(9)), "counts": counts})
    events.append({"kind": "image", "step": 300, "name": "lost", "path": "artifacts/lost.png", "width": 4})
    (run_dir / "artifacts" / "corrupt.png").write_bytes(b"\x89PNG not really")
    events.append({"kind": "image", "step": 300, "name": "corrupt", "path": "artifacts/corrupt.png"})
    gif = run_dir / "artifacts" / "videos" / "denoise.gif"
    gif.parent.mkdir(parents=True, exist_ok=True)
    frames = [Image.new("RGB", (16, 16), (20 * i, 100, 200 - 20 * i)) for i in range(4)]
    frames[0].save(gif, save_all=True, append_images=frames[1:], duration=100, loop=0)
    rel = "artifacts/videos/denoise.gif"
    events.append({"kind": "video", "step": 300, "name": "denoise", "path": rel, "width": 16, "frames": 4, "fps": 10})
    if finished:
        events.append({"kind": "status", "state": "finished", "reason": None, "step": 300})
    return [{"v": 1, "seq": i, "t": T0 + i, **ev} for i, ev in enumerate(events)]


def write_media_run(run_dir: Path, finished: bool = True) -> Path:
    """Writes ``run_dir`` with its ``events.jsonl`` and artifacts; returns it."""
    run_dir.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps(ev) for ev in media_events(run_dir, finished)]
    (run_dir / "events.jsonl").write_text("\n".join(lines) + "\n")
    return run_dir
