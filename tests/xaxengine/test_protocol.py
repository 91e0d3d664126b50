import io
import subprocess
import sys

import numpy as np

from xaxengine.protocol import EventWriter, Kind, LineReader, decode, encode, last_seq_in_file, make_event, read_events


def test_round_trip_keeps_fields_and_numpy_values():
    event = make_event(3, Kind.SCALARS, step=10, phase="train", values={"loss": np.float32(0.5)})
    decoded = decode(encode(event))
    assert decoded is not None
    assert decoded["seq"] == 3 and decoded["kind"] == "scalars" and decoded["v"] == 1
    assert decoded["values"] == {"loss": 0.5}
    assert encode(event).endswith(b"\n") and encode(event).count(b"\n") == 1


def test_non_finite_floats_become_null():
    decoded = decode(encode(make_event(0, Kind.SCALARS, values={"loss": float("nan")})))
    assert decoded is not None and decoded["values"]["loss"] is None


def test_decode_rejects_garbage_and_non_events():
    assert decode(b"not json") is None
    assert decode(b"[1, 2]") is None
    assert decode(b'{"kind": "log"}') is None  # no seq
    assert decode(b'{"seq": "1", "kind": "log"}') is None


def test_reader_skips_and_counts_garbage_and_holds_partial_line():
    good = [encode(make_event(i, Kind.LOG, level="info", message=f"m{i}")) for i in range(3)]
    reader = LineReader()
    events = reader.feed(good[0] + b"garbage{{\n" + good[1][:10])
    assert [e["seq"] for e in events] == [0]
    assert reader.bad_lines == 1
    events = reader.feed(good[1][10:] + good[2])
    assert [e["seq"] for e in events] == [1, 2]
    assert reader.pending == b""


def test_reader_drops_duplicate_seq_after_reconnect():
    lines = [encode(make_event(i, Kind.LOG, level="info", message="x")) for i in range(5)]
    reader = LineReader()
    assert len(reader.feed(b"".join(lines[:3]))) == 3
    assert [e["seq"] for e in reader.feed(b"".join(lines[1:]))] == [3, 4]


def test_reader_finish_flushes_line_without_newline():
    reader = LineReader()
    assert reader.feed(encode(make_event(0, Kind.LOG, level="info", message="x")).rstrip(b"\n")) == []
    assert [e["seq"] for e in reader.finish()] == [0]


def test_unknown_kinds_and_fields_pass_through():
    line = b'{"v": 9, "seq": 0, "t": 1.0, "kind": "future_kind", "new_field": [1]}\n'
    assert LineReader().feed(line)[0]["new_field"] == [1]


def test_writer_numbers_events_and_survives_a_closed_reader(tmp_path):
    path = tmp_path / "events.jsonl"
    with open(path, "ab") as f:
        broken = io.BytesIO()
        broken.close()
        writer = EventWriter([f, broken], next_seq=7)
        writer.emit(Kind.LOG, level="info", message="a")
        writer.emit(Kind.LOG, level="info", message="b")
    assert [e["seq"] for e in read_events(path)] == [7, 8]
    assert last_seq_in_file(path) == 8
    with open(path, "ab") as f:
        f.write(b'{"partial": ')
    assert last_seq_in_file(path) == 8


def test_protocol_import_does_not_import_jax():
    code = (
        "import sys, xaxengine.protocol, xaxengine.runs; heavy = {'jax', 'jaxlib', 'equinox', 'optax', 'orbax'}; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
