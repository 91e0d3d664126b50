"""Sweep files as a user writes them: the issue's form parses, bad files get one line and exit 2 from the real CLI."""

import io
import math
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest

from tests.conftest import BIN, REPO, engine_env
from xaxengine.config import ConfigError
from xaxengine.sweep.placement import make_slots
from xaxengine.sweep.spec import ObjectiveTracker, load_sweep, trial_overrides

ISSUE_FORM = """task = "mnist.toml"
objective = "valid/accuracy"
direction = "maximize"
trials = 6
parallel = 2
sampler = "tpe"
seed = 0
overrides = ["train.max_steps=300"]

[params]
"optimizer.lr" = { log_uniform = [1e-4, 1e-1] }
hidden = { choice = [64, 128, 256] }
"""


def write_sweep(folder: Path, text: str, name: str = "digits.sweep.toml") -> Path:
    (folder / "mnist.toml").write_text((REPO / "tasks" / "mnist.toml").read_text())
    path = folder / name
    path.write_text(text)
    return path


def sweep_cli(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "xaxengine"), "sweep", *args],
        cwd=cwd,
        env=engine_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_issue_form_parses_with_the_task_relative_to_the_sweep_file(tmp_path):
    spec = load_sweep(write_sweep(tmp_path, ISSUE_FORM))
    assert spec.task_path == (tmp_path / "mnist.toml").resolve()
    assert (spec.objective_phase, spec.objective_name, spec.file.direction) == ("valid", "accuracy", "maximize")
    lr, hidden = spec.params
    assert (lr.name, lr.kind, lr.low, lr.high, lr.log) == ("optimizer.lr", "float", 1e-4, 1e-1, True)
    assert (hidden.kind, hidden.choices) == ("categorical", (64, 128, 256))
    assert trial_overrides(spec, {"optimizer.lr": 0.01, "hidden": 128}) == [
        "train.max_steps=300",
        "optimizer.lr=0.01",
        "hidden=128",
    ]


def test_conditional_params_are_sampled_only_when_their_condition_holds(tmp_path):
    text = (
        ISSUE_FORM
        + 'model = { choice = ["mlp", "cnn"] }\nchannels = { choice = [[8, 16], [16, 32]], when = { model = "cnn" } }\n'
    )
    spec = load_sweep(write_sweep(tmp_path, text))
    channels = spec.params[-1]
    assert channels.active({"model": "cnn"}) and not channels.active({"model": "mlp"})
    assert trial_overrides(spec, {"channels": [8, 16]})[-1] == "channels=[8, 16]"


BAD_FILES = [
    ("objectve = 'valid/loss'\n", ":2: unknown field 'objectve' (did you mean 'objective'?)"),
    ("trials = 'six'\n", ":2: field 'trials' expects int"),
    ("sampler = 'bayes'\n", ":2: field 'sampler' expects one of 'tpe', 'random', 'grid', 'cmaes'"),
    ("trials = = 3\n", ":2:10: invalid TOML"),
    (
        "[params]\nx = { log_unifrom = [1, 2] }\n",
        ":3: params 'x': unknown key 'log_unifrom' (did you mean 'log_uniform'?)",
    ),
    ("[params]\nx = { uniform = [2, 1] }\n", ":3: params 'x': uniform needs low < high"),
    ("[params]\nx = { log_uniform = [0, 1] }\n", ":3: params 'x': a log scale needs low > 0"),
    ("[params]\nx = { int = [1, 2.5] }\n", ":3: params 'x': int must be [low, high] with two integers"),
    ("[params]\nx = { choice = [] }\n", ":3: params 'x': choice must be a non-empty list"),
    (
        "[params]\nx = { choice = [1], when = { y = 1 } }\ny = { choice = [1] }\n",
        ":3: params 'x': when names 'y', not an earlier param (it must come",
    ),
    ("sampler = 'grid'\n[params]\nx = { uniform = [0, 1] }\n", ":4: params 'x': sampler 'grid' needs every param"),
]


@pytest.mark.parametrize(("extra", "message"), BAD_FILES)
def test_a_bad_sweep_file_is_one_line_naming_file_and_line(tmp_path, extra, message):
    head = 'task = "mnist.toml"\n'
    text = head + extra if "[params]" in extra else head + extra + "[params]\nhidden = { choice = [64] }\n"
    path = write_sweep(tmp_path, text)
    with pytest.raises(ConfigError) as error:
        load_sweep(path)
    assert str(error.value).startswith(f"{path}{message}")
    assert "\n" not in str(error.value)


def test_a_missing_base_task_names_the_task_line(tmp_path):
    path = tmp_path / "s.sweep.toml"
    path.write_text('objective = "valid/loss"\ntask = "nowhere.toml"\n[params]\nhidden = { choice = [64] }\n')
    with pytest.raises(ConfigError, match=r"s\.sweep\.toml:2: task file 'nowhere\.toml' not found"):
        load_sweep(path)


def test_the_cli_exits_2_with_one_line_for_a_bad_file(tmp_path):
    path = write_sweep(tmp_path, 'task = "mnist.toml"\nparalel = 2\n[params]\nhidden = { choice = [64] }\n')
    done = sweep_cli(str(path), "--runs-dir", str(tmp_path / "runs"))
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"xaxengine: error: {path}:2: unknown field 'paralel' (did you mean 'parallel'?)"
    ]
    assert not (tmp_path / "runs").exists()  # nothing written for a bad file


def test_a_param_the_task_does_not_have_is_refused_before_any_trial(tmp_path):
    path = write_sweep(tmp_path, ISSUE_FORM.replace('"optimizer.lr"', '"optimizer.lrr"'))
    done = sweep_cli(str(path), "--runs-dir", str(tmp_path / "runs"))
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1
    assert f"{path}:11: params 'optimizer.lrr': the task has no field 'optimizer.lrr'" in lines[0]
    assert "(did you mean 'optimizer.lr'?)" in lines[0]
    assert not (tmp_path / "runs").exists()


def test_a_value_the_field_does_not_accept_is_refused_before_any_trial(tmp_path):
    path = write_sweep(tmp_path, ISSUE_FORM.replace("[64, 128, 256]", '[64, "wide"]'))
    done = sweep_cli(str(path), "--runs-dir", str(tmp_path / "runs"))
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()
    assert f"{path}:12: params 'hidden': override 'hidden=\"wide\"': field 'hidden' expects int" in line


def test_the_cli_refuses_join_without_storage_and_unknown_sweeps(tmp_path):
    done = sweep_cli("--join", "nope")
    assert done.returncode == 2 and "--storage" in done.stderr
    done = sweep_cli("--resume", "nope", "--runs-dir", str(tmp_path))
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "sweep 'nope' not found" in done.stderr


@pytest.mark.parametrize(
    ("rule", "direction", "expected"),
    [("last", "maximize", 0.5), ("best", "maximize", 0.7), ("best", "minimize", 0.2), ("mean_last", "maximize", 0.6)],
)
def test_the_objective_step_rule_picks_the_value(rule, direction, expected):
    tracker = ObjectiveTracker(direction, rule, 2, {})
    for step, value in [
        (10, 0.2),
        (20, 0.9),
        (30, 0.7),
        (20, 0.7),
        (40, 0.5),
    ]:  # step 20 again: a resumed run replaces 0.9
        tracker.add(step, value)
    assert math.isclose(tracker.value() or 0.0, expected)
    assert ObjectiveTracker(direction, rule, 2, {}).value() is None


def test_slots_give_one_gpu_each_or_a_share_of_the_cores():
    gpus = make_slots(3, gpus=["0", "1", "2", "3"])
    assert [s.env["CUDA_VISIBLE_DEVICES"] for s in gpus] == ["0", "1", "2"]
    assert all("XLA_PYTHON_CLIENT_PREALLOCATE" not in s.env for s in gpus)
    shared = make_slots(2, gpus=["0"])
    assert [s.env["CUDA_VISIBLE_DEVICES"] for s in shared] == ["0", "0"]
    assert shared[0].env["XLA_PYTHON_CLIENT_PREALLOCATE"] == "false"
    cpus = make_slots(2, gpus=[], cores=[0, 1, 2, 3, 4])
    assert [s.cores for s in cpus] == [(0, 1), (2, 3)] and cpus[0].env == {}
    assert [s.cores for s in make_slots(3, gpus=[], cores=[0, 1])] == [(0,), (1,), (0,)]


def test_best_toml_keeps_the_base_files_comments(tmp_path):
    from xaxengine.sweep.study import write_best_toml

    spec = load_sweep(write_sweep(tmp_path, ISSUE_FORM))
    best = tmp_path / "best.toml"
    write_best_toml(spec, {"optimizer.lr": 0.0123, "hidden": 128}, best)
    text = best.read_text()
    assert '# "mnist" loads ylecun/mnist from the Hugging Face hub instead' in text
    data = tomllib.loads(text)
    assert (data["optimizer"]["lr"], data["hidden"], data["train"]["max_steps"]) == (0.0123, 128, 300)
    assert data["optimizer"]["kind"] == "adamw"


@pytest.mark.parametrize("sampler", ["tpe", "random", "grid", "cmaes"])
def test_every_sampler_proposes_values_inside_the_space(tmp_path, sampler):
    import optuna

    from xaxengine.sweep.study import make_sampler, suggest

    space = (
        '"optimizer.lr" = { grid = [0.001, 0.01] }\nchannels = { choice = [[8, 16], [16, 32]] }\n'
        if sampler == "grid"
        else '"optimizer.lr" = { log_uniform = [1e-4, 1e-1] }\ndepth = { int = [1, 3] }\n'
        "channels = { choice = [[8, 16], [16, 32]] }\n"
    )
    text = f'task = "mnist.toml"\nsampler = "{sampler}"\n[params]\n{space}'
    spec = load_sweep(write_sweep(tmp_path, text))
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study = optuna.create_study(sampler=make_sampler(spec, seed=0))
    seen = []
    for _ in range(4):
        trial = study.ask()
        values = suggest(trial, spec)
        assert 1e-4 <= values["optimizer.lr"] <= 1e-1
        assert values["channels"] in ([8, 16], [16, 32])  # lists travel as JSON in Optuna, come back as lists
        assert values.get("depth", 1) in (1, 2, 3)
        study.tell(trial, values["optimizer.lr"])
        seen.append((values["optimizer.lr"], tuple(values["channels"])))
    if sampler == "grid":
        assert len(set(seen)) == 4  # each grid point once


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_gets_a_live_table_and_a_pipe_gets_plain_lines(monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # a wide terminal: rich reads its width from COLUMNS
    from xaxengine.sweep.report import Reporter, TrialRow

    rows = {
        0: TrialRow(0, "complete", {"optimizer.lr": 0.00123, "hidden": 64}, value=0.91, step=60, slot="cpu 0"),
        1: TrialRow(1, "pruned", {"optimizer.lr": 1e-7, "hidden": 128}, value=0.1, step=20, reason="pruned at step 20"),
    }
    terminal = FakeTerminal()
    live = Reporter("sweep s", "valid/accuracy", out=terminal)
    live.line("trial 0 started")  # the table shows it; no stray lines under the live display
    live.refresh(rows, rows[0], force=True)
    live.close(["best trial 0: valid/accuracy=0.91"])
    drawn = terminal.getvalue()
    assert "valid/accuracy" in drawn and "optimizer.lr=0.00123 hidden=64" in drawn and "pruned at step 20" in drawn
    assert "best: trial 0 valid/accuracy=0.91" in drawn and "trial 0 started" not in drawn
    assert drawn.rstrip().endswith("best trial 0: valid/accuracy=0.91")

    pipe = io.StringIO()
    plain = Reporter("sweep s", "valid/accuracy", out=pipe)
    plain.line("trial 0 started")
    plain.refresh(rows, rows[0], force=True)
    plain.close(["best trial 0: valid/accuracy=0.91"])
    assert pipe.getvalue() == "trial 0 started\nbest trial 0: valid/accuracy=0.91\n"


def test_the_driver_imports_no_jax():
    code = (
        "import sys, xaxengine.cli, xaxengine.sweep.cli, xaxengine.sweep.driver, xaxengine.sweep.check; "
        "heavy = {'jax', 'jaxlib', 'equinox', 'optax', 'orbax'}; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize(
    ("pruner", "kind"),
    [("median", "MedianPruner"), ("asha", "SuccessiveHalvingPruner"), ("successive_halving", "SuccessiveHalvingPruner"),
     ("none", "NopPruner")],
)  # fmt: skip
def test_the_pruner_the_file_names_is_the_one_optuna_gets(tmp_path, pruner, kind):
    from xaxengine.sweep.study import make_pruner

    spec = load_sweep(write_sweep(tmp_path, ISSUE_FORM.replace('sampler = "tpe"', f'pruner = "{pruner}"')))
    assert type(make_pruner(spec)).__name__ == kind


def test_no_trial_starts_after_the_wall_clock_budget(tmp_path):
    import optuna

    from xaxengine.sweep.driver import SweepDriver
    from xaxengine.sweep.report import Reporter
    from xaxengine.sweep.study import SweepMeta

    spec = load_sweep(write_sweep(tmp_path, ISSUE_FORM.replace("trials = 6", "trials = 6\ntimeout_s = 0.001")))
    meta = SweepMeta("s", str(spec.task_path), "mnist", "", str(tmp_path / "runs"), 0.0)
    study = optuna.create_study(direction="maximize")
    driver = SweepDriver(spec, meta, tmp_path, study, Reporter("s", spec.file.objective, out=io.StringIO()))
    time.sleep(0.01)
    driver._fill_slots()
    assert driver.exhausted and study.trials == [] and not driver.running
