"""Random event streams for the fuzz tests, and what a correct reader must keep of them.

A stream is the lines of one run's ``events.jsonl``: good ``scalars`` (values anywhere from -1e308 to 1e308, NaN and
±Inf written as the engine writes them, ``null``, signed zeros, subnormals), garbage lines (random bytes, truncated
JSON, ``NaN`` literals, blank lines), events whose ``seq`` went back (a replay), unknown kinds, and events of every
kind with fields of the wrong type. :attr:`Stream.expected` counts, per ``(metric, phase)``, the finite points a
reader must keep: those of good events, plus the finite numbers of events whose other fields are wrong only in
``values`` entries.
"""

import math
import random
from collections import Counter
from dataclasses import dataclass, field

import orjson

T0 = 1764547200.0
METRICS = ("loss", "accuracy", "grad_norm")
PHASES = ("train", "valid")
EXTREMES = (math.nan, math.inf, -math.inf, -0.0, 0.0, 1e308, -1e308, 1.7976931348623157e308, 5e-324, -5e-324, 1e-300)
BAD_VALUES = ("1.0", "nan", [1.0], {"a": 1}, True, False)
BAD_NUMBERS = ("12", None, [3], {"s": 1}, True, "now")


@dataclass
class Stream:
    """The lines of a run and the finite points per ``(metric, phase)`` a reader must keep."""

    lines: list[bytes] = field(default_factory=list)
    expected: Counter = field(default_factory=Counter)
    garbage: int = 0  # lines a reader must skip and count (blank lines are skipped, not counted)
    seq: int = -1
    step: int = 0
    t: float = T0

    def add(self, event: dict, seq: int | None = None) -> None:
        """Appends one event line (the next ``seq`` unless given)."""
        if seq is None:
            self.seq += 1
            seq = self.seq
        self.lines.append(orjson.dumps({"v": 1, "seq": seq, "t": self.t, **event}))

    def data(self, rng: random.Random, partial_tail: bool) -> bytes:
        """The file's bytes: one line each, and maybe a last line cut short with no newline (a writer killed)."""
        body = b"".join(line + b"\n" for line in self.lines)
        if partial_tail:
            body += self.lines[-1][: rng.randrange(1, len(self.lines[-1]))]
            self.garbage += 1
        return body


def finite_number(value: object) -> bool:
    """Whether a reader must chart ``value`` (a finite int or float; booleans are not numbers here)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def random_value(rng: random.Random) -> object:
    """A metric value: ordinary, extreme, non-finite, or (rarely) of the wrong type."""
    roll = rng.random()
    if roll < 0.35:
        return rng.choice(EXTREMES)
    if roll < 0.5:
        return rng.choice((-1, 1)) * 10.0 ** rng.uniform(-320, 308)
    if roll < 0.55:
        return rng.choice(BAD_VALUES)
    if roll < 0.6:
        return rng.randint(-(10**6), 10**6)
    return rng.gauss(1.0, 0.5)


def _good_scalars(s: Stream, rng: random.Random) -> None:
    s.step += rng.choice((1, 1, 2, 10))
    s.t += rng.choice((0.0, 1e-6, 0.5, 3600.0))
    phase = rng.choice(PHASES)
    values = {name: random_value(rng) for name in rng.sample(METRICS, rng.randint(1, 3))}
    s.add({"kind": "scalars", "step": s.step, "phase": phase, "values": values, "samples_per_s": 1e3})
    for name, value in values.items():
        s.expected[name, phase] += finite_number(value)


def _garbage(s: Stream, rng: random.Random) -> None:
    line = rng.choice(s.lines)
    s.lines.append(
        garbage := rng.choice(
            (
                bytes(rng.randrange(256) for _ in range(rng.randrange(1, 40))).replace(b"\n", b" "),
                line[: rng.randrange(1, len(line))],  # truncated JSON
                b'{"v":1,"seq":%d,"t":1.0,"kind":"scalars","step":1,"phase":"train","values":{"loss":NaN}}' % s.seq,
                b"[1, 2, 3]",
                b'{"kind": "scalars"}',  # no seq
                b'{"seq": "7", "kind": "log"}',
                b"   ",
                b"\xff\xfe\x00garbage",
            )
        )
    )
    s.garbage += bool(garbage.strip())


def _wrong_types(s: Stream, rng: random.Random) -> None:
    """An event with a valid ``seq`` whose fields have the wrong types (nothing of it may be charted)."""
    bad = rng.choice(BAD_NUMBERS)
    s.t += 1.0
    templates: list[dict] = [
        {"kind": "scalars", "step": bad, "phase": "train", "values": {"loss": 1.0}},
        {"kind": "scalars", "step": s.step + 1, "phase": rng.choice((5, None, ["train"])), "values": {"loss": 1.0}},
        {"kind": "scalars", "step": s.step + 1, "phase": "train", "values": rng.choice(([1.0], "x", None, 3))},
        {"kind": "status", "state": rng.choice((5, None, ["running"])), "step": bad, "reason": [1]},
        {
            "kind": "stats",
            "cpu_percent": bad,
            "rss_bytes": bad,
            "gpus": rng.choice(("none", [1, "x"], [{"util": "x"}])),
        },
        {"kind": "checkpoint", "step": bad, "path": bad, "bytes": bad, "save_s": bad, "kept": bad},
        {"kind": "log", "level": bad, "message": bad},
        {"kind": "image", "step": bad, "name": bad, "path": bad, "width": bad},
        {"kind": "text", "step": bad, "name": bad, "text": bad},
        {"kind": "histogram", "step": bad, "name": "h", "bins": bad, "counts": [1, "a"]},
        {"kind": "compile", "what": bad, "seconds": bad},
        {"kind": "busy", "what": bad, "step": bad},
    ]
    event = rng.choice(templates)
    if rng.random() < 0.3:
        s.lines.append(orjson.dumps({"v": 1, "seq": s.seq + 1, "t": bad, **event}))  # t itself of the wrong type
        s.seq += 1
        return
    s.add(event)


def random_stream(rng: random.Random, run_id: str, events: int) -> Stream:
    """A finished run of about ``events`` lines mixing good, stale, garbage, unknown and wrongly typed events."""
    s = Stream()
    config = {"optimizer": {"lr": rng.choice((1e-3, 3e-4))}, "model": {"hidden": rng.choice((64, 128))}}
    s.add({"kind": "run_start", "run_id": run_id, "task": "tasks.fuzz:Task", "config": config, "max_steps": 10**6})
    s.add({"kind": "status", "state": "running", "reason": None, "step": 0})
    for _ in range(events):
        roll = rng.random()
        if roll < 0.55:
            _good_scalars(s, rng)
        elif roll < 0.62 and s.seq > 2:  # a replayed or out-of-order seq: dropped whatever it says
            stale = {"kind": "scalars", "step": s.step + 5, "phase": "train", "values": {"loss": 123.0, "x": 1.0}}
            s.add(stale, seq=rng.randrange(0, s.seq + 1))
        elif roll < 0.72:
            _garbage(s, rng)
        elif roll < 0.78:
            s.add({"kind": rng.choice(("zzz_future", "", "SCALARS")), "step": s.step, "values": {"loss": 9.0}})
        elif roll < 0.92:
            _wrong_types(s, rng)
        else:
            s.add({"kind": "log", "level": "info", "message": f"step {s.step}"})
    s.add({"kind": "status", "state": "finished", "reason": None, "step": s.step})
    return s
