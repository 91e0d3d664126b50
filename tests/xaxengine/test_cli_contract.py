"""The fake engine the TUI tests use (``tests/fixtures/fake_engine.py``) speaks the real engine's CLI contract.

Both run ``schema``, a short ``run --events -`` of the tiny task and ``ls --json``; the event kinds, each kind's keys,
the schema's keys and the listing's keys must be the same, so a TUI test that passes against the fake also holds
against the real engine. When the real engine grows a field or a kind, this fails until the fake has it too.
"""

import json
import os
import subprocess
import sys
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

import pytest

from tests.conftest import REPO, engine_env, run_engine
from xaxengine.protocol import decode

FAKE_ENGINE = REPO / "tests" / "fixtures" / "fake_engine.py"
TINY = "tests/fixtures/tasks/tiny.toml"
STEPS = 20
SHORT = [
    f"train.max_steps={STEPS}",
    "train.log_every_n_steps=5",
    "train.valid_every_n_steps=10",
    "checkpoint.save_every_n_steps=10",
]


def run_fake(*args: str) -> subprocess.CompletedProcess[str]:
    env = engine_env(FAKE_STEP_S="0.01")
    return subprocess.run(
        [sys.executable, str(FAKE_ENGINE), *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def keys_by_kind(lines: Iterable[str]) -> dict[str, set[str]]:
    """Every kind in the event stream and the union of the keys its events carry."""
    keys: dict[str, set[str]] = defaultdict(set)
    for line in lines:
        event = decode(line.encode())
        assert event is not None, f"not an event line: {line[:200]!r}"
        keys[event["kind"]].update(event)
    return dict(keys)


def differences(real: dict[str, set[str]], fake: dict[str, set[str]]) -> list[str]:
    """Human-readable differences between two ``{name: keys}`` maps (empty when they agree)."""
    out = []
    for name in sorted(real.keys() | fake.keys()):
        if name not in fake:
            out.append(f"{name}: only the real engine has it (keys {sorted(real[name])})")
        elif name not in real:
            out.append(f"{name}: only the fake engine has it (keys {sorted(fake[name])})")
        elif real[name] != fake[name]:
            real_only, fake_only = sorted(real[name] - fake[name]), sorted(fake[name] - real[name])
            out.append(f"{name}: real-only keys {real_only}, fake-only keys {fake_only}")
    return out


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, object]]:
    """The same commands on the real engine and on the fake one, each in its own runs dir."""
    results: dict[str, dict[str, object]] = {}
    for name, call in (("real", run_engine), ("fake", run_fake)):
        runs = tmp_path_factory.mktemp(f"{name}-runs")
        run = call("run", TINY, *SHORT, "--events", "-", "--runs-dir", str(runs), "--run-id", "contract")
        assert run.returncode == 0, f"{name} engine run failed: {run.stderr[-3000:]}"
        schema = call("schema", TINY)
        assert schema.returncode == 0, f"{name} engine schema failed: {schema.stderr[-3000:]}"
        listing = call("ls", "--json", "--runs-dir", str(runs))
        assert listing.returncode == 0, f"{name} engine ls failed: {listing.stderr[-3000:]}"
        results[name] = {
            "runs": runs,
            "events": [line for line in run.stdout.splitlines() if line.strip()],
            "schema": json.loads(schema.stdout),
            "ls": json.loads(listing.stdout),
        }
    return results


def test_run_events_have_the_same_kinds_and_keys(both):
    real, fake = keys_by_kind(both["real"]["events"]), keys_by_kind(both["fake"]["events"])
    assert {"run_start", "status", "scalars", "checkpoint"} <= real.keys()  # the comparison covers a real run
    assert differences(real, fake) == []


def test_both_runs_end_finished_at_the_last_step(both):
    for name in ("real", "fake"):
        statuses = [e for e in map(lambda line: decode(line.encode()), both[name]["events"]) if e["kind"] == "status"]
        assert (statuses[-1]["state"], statuses[-1]["step"]) == ("finished", STEPS), name


def test_schema_has_the_same_keys_and_the_fake_fields_have_the_real_types(both):
    real, fake = both["real"]["schema"], both["fake"]["schema"]
    assert set(real) == set(fake)
    field_keys = {name: set().union(*(f.keys() for f in both[name]["schema"]["fields"])) for name in ("real", "fake")}
    assert differences({"field": field_keys["real"]}, {"field": field_keys["fake"]}) == []
    real_fields = {f["name"]: f for f in real["fields"]}
    for field in fake["fields"]:  # the fake lists the fields set in the file; each must be a real field, same type
        assert field["name"] in real_fields, f"the fake schema invents {field['name']!r}"
        assert field["type"] == real_fields[field["name"]]["type"], field["name"]
        assert field["value"] == real_fields[field["name"]]["value"], field["name"]


def test_ls_json_has_the_same_keys(both):
    (real,), (fake,) = both["real"]["ls"], both["fake"]["ls"]
    assert differences({"run": set(real)}, {"run": set(fake)}) == []
    assert (real["run_id"], real["state"], real["step"]) == ("contract", "finished", STEPS)
    assert (fake["run_id"], fake["state"], fake["step"]) == ("contract", "finished", STEPS)


def test_the_real_catalogue_reads_a_fake_run_dir_like_its_own(both):
    """The TUI opens fake runs through the real catalogue: task, state and step must read the same."""
    proc = run_engine("ls", "--json", "--runs-dir", str(both["fake"]["runs"]))
    assert proc.returncode == 0, proc.stderr
    (row,) = json.loads(proc.stdout)
    (own,) = both["real"]["ls"]
    assert (row["task"], row["state"], row["step"]) == (own["task"], own["state"], own["step"])
    # Both leave their (unlocked) lock file behind: an unlocked file means no live engine, in both.
    assert os.path.exists(Path(row["run_dir"]) / "lock") == os.path.exists(Path(own["run_dir"]) / "lock")


def test_the_config_forms_recorded_schema_is_the_real_engines():
    """The form tests feed the fake engine a recorded ``schema`` of mnist (84 fields: choices, bools, bounds).

    Every recorded field must still be the real engine's (same type, default, help, choices, bounds); fields added
    to the engine since do not matter to those tests.
    """
    done = run_engine("schema", "tests/fixtures/tasks/mnist_form.toml")
    assert done.returncode == 0, done.stderr[-3000:]
    real = {f["name"]: f for f in json.loads(done.stdout)["fields"]}
    recorded = json.loads((REPO / "tests" / "fixtures" / "schemas" / "mnist.json").read_text())["fields"]
    changed = [f["name"] for f in recorded if real.get(f["name"]) != f]  # a field added since is no change
    assert changed == [], (
        "re-record: xaxengine schema tests/fixtures/tasks/mnist_form.toml > tests/fixtures/schemas/mnist.json"
    )
