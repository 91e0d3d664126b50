"""Tests for xaxengine.config: a corpus of bad inputs with one-line errors, and the good paths."""

import dataclasses
import sys
import textwrap
import tomllib
from pathlib import Path
from types import ModuleType

import pytest

from tests.conftest import run_engine
from xaxengine.config import (
    MISSING,
    ConfigError,
    apply_overrides,
    build_config,
    config_schema,
    config_to_dict,
    field,
    import_object,
    load_run_spec,
    load_toml,
    save_toml,
)

TASKS_SRC = """
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from xaxengine.config import field


@dataclass(kw_only=True)
class WandbConfig:
    project: str = field("xax", help="W&B project.")
    enabled: bool = field(False, help="Log to W&B.")


@dataclass(kw_only=True)
class LoggerConfig:
    every: int = field(10, help="Log every N steps.")
    wandb: WandbConfig = field(WandbConfig, help="W&B settings.")


@dataclass(kw_only=True)
class OptimizerConfig:
    lr: float = field(1e-3, help="Peak learning rate.")
    kind: Literal["adam", "adamw", "sgd"] = field("adamw", help="Optimizer.")
    betas: tuple[float, float] = field((0.9, 0.999), help="Adam betas.")


@dataclass(kw_only=True)
class TrainConfig:
    max_steps: int | None = field(None, help="Stop after this many steps.")
    batch_size: int = field(32, help="Batch size.")
    compile: bool = field(True, help="JIT the step.")


@dataclass(kw_only=True)
class TaskConfig:
    dataset: str = field("digits", help="Dataset.", choices=["digits", "mnist"])
    hidden: list[int] = field([64, 64], help="Hidden sizes.")
    dropout: list[float] = field([0.1], help="Dropout per layer.")
    tags: list[str] = field([], help="Tags.")
    extra: dict[str, Any] = field({}, help="Free-form extras.")
    seed: int = field(0, help="Seed.")
    optimizer: OptimizerConfig = field(OptimizerConfig, help="Optimizer settings.")
    train: TrainConfig = field(TrainConfig, help="Training loop.")
    logger: LoggerConfig = field(LoggerConfig, help="Logging.")


class GoodTask:
    config_class = TaskConfig


@dataclass(kw_only=True)
class RequiredConfig:
    name: str = field(help="Required name.")
    size: int = field(1, help="Size.")


class RequiredTask:
    config_class = RequiredConfig


@dataclass(kw_only=True)
class CheckedConfig:
    steps: int = field(1, help="Steps.")

    def __post_init__(self):
        if self.steps < 0:
            raise ValueError("steps must be >= 0")


class CheckedTask:
    config_class = CheckedConfig


@dataclass(kw_only=True)
class UndocumentedConfig:
    width: int = 64


class UndocumentedTask:
    config_class = UndocumentedConfig


class NoConfig:
    pass


class BadConfigClass:
    config_class = dict


def not_a_class():
    return None


@dataclass(kw_only=True)
class Inner:
    x: int = field(1, help="x")


@dataclass(kw_only=True)
class Outer:
    items: list[int] = field([1], help="items")
    inner: Inner = field(Inner, help="inner")
    needed: str = field(help="needed")


@dataclass(kw_only=True)
class InstanceDefault:
    inner: Inner = field(Inner(x=5), help="inner")


@dataclass(kw_only=True)
class Loose:
    anything: Any = field(None, help="anything")
    path: Path = field(Path("."), help="a path")
"""

MODULES = {
    "cfgtest_tasks.py": TASKS_SRC,
    "cfgtest_broken.py": "x = 1 / 0\n",
    "cfgtest_baddep.py": "import nonexistent_dep_xyz\n",
    "cfgtest_syntax.py": "def broken(:\n",
}

T = 'task = "cfgtest_tasks:GoodTask"\n'
DIRECTORY = "<directory>"


@pytest.fixture(scope="module")
def tasks_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tasks")
    for name, src in MODULES.items():
        (root / name).write_text(src)
    return root


@pytest.fixture(scope="module")
def mod(tasks_dir: Path) -> ModuleType:
    return sys.modules[import_object("cfgtest_tasks:GoodTask", search_paths=[tasks_dir]).__module__]


@pytest.fixture
def case_dir(tasks_dir: Path, request: pytest.FixtureRequest) -> Path:
    path = tasks_dir / request.node.name.replace("[", "_").replace("]", "").replace("/", "_")
    path.mkdir()
    return path


def write(case_dir: Path, text: str) -> Path:
    path = case_dir / "task.toml"
    path.write_text(text)
    return path


# (toml text | None for a missing file | DIRECTORY, overrides, substrings the one-line message must contain)
CORPUS = [
    pytest.param(T + 'dataset = "digits\n', [], ["task.toml:2:", "invalid TOML"], id="unclosed-string"),
    pytest.param(T + "[optimizer\nlr = 1\n", [], ["task.toml:2:", "invalid TOML", "table"], id="bad-table-header"),
    pytest.param(T + "seed = 1\nseed = 2\n", [], ["task.toml:3:", "invalid TOML"], id="duplicate-key"),
    pytest.param(T + "[train]\nbatch_size = 1\n[train]\n", [], ["task.toml:4:", "invalid TOML"], id="duplicate-table"),
    pytest.param(T + "seed = foo\n", [], ["task.toml:2:8:", "invalid TOML: Invalid value"], id="bad-value"),
    pytest.param(T + "hidden = [1, 2\n", [], ["task.toml:3:", "invalid TOML"], id="unclosed-array"),
    pytest.param(T + "sed = 1\n", [], ["task.toml:2:", "unknown field 'sed'", "did you mean 'seed'"], id="unknown-top"),
    pytest.param(
        T + "[optimzer]\nlr = 0.1\n",
        [],
        ["task.toml:3:", "unknown field 'optimzer.lr'", "(did you mean 'optimizer.lr'?)"],
        id="unknown-section",
    ),
    pytest.param(
        T + '[optimizer]\nkind = "adam"\nlrr = 0.1\n',
        [],
        ["task.toml:4:", "'optimizer.lrr'", "did you mean 'optimizer.lr'"],
        id="unknown-in-section",
    ),
    pytest.param(
        T + '\n[logger.wandb]\nprojct = "x"\n',
        [],
        ["task.toml:4:", "'logger.wandb.projct'", "did you mean 'logger.wandb.project'"],
        id="unknown-nested",
    ),
    pytest.param(
        T + "optimizer.lrate = 0.1\n", [], ["task.toml:2:", "did you mean 'optimizer.lr'"], id="unknown-dotted-key"
    ),
    pytest.param(T + "zzzz = 1\n", [], ["task.toml:2:", "unknown field 'zzzz'"], id="unknown-no-suggestion"),
    pytest.param(
        T + 'seed = "one"\n', [], ["task.toml:2:", "field 'seed' expects int, got str 'one'"], id="str-for-int"
    ),
    pytest.param(
        T + "seed = 1.5\n", [], ["task.toml:2:", "field 'seed' expects int, got float 1.5"], id="float-for-int"
    ),
    pytest.param(
        T + "seed = true\n", [], ["task.toml:2:", "field 'seed' expects int, got bool True"], id="bool-for-int"
    ),
    pytest.param(
        T + "[optimizer]\nlr = false\n", [], ["task.toml:3:", "'optimizer.lr' expects float"], id="bool-for-float"
    ),
    pytest.param(
        T + '[optimizer]\n\n# lr = 1\nlr = "3e-4"\n',
        [],
        ["task.toml:5:", "'optimizer.lr' expects float, got str '3e-4'"],
        id="str-for-float",
    ),
    pytest.param(T + "[train]\ncompile = 1\n", [], ["task.toml:3:", "'train.compile' expects bool"], id="int-for-bool"),
    pytest.param(T + "dataset = 5\n", [], ["task.toml:2:", "'dataset' expects str, got int 5"], id="int-for-str"),
    pytest.param(T + 'hidden = [64, "x"]\n', [], ["task.toml:2:", "'hidden' expects list[int]"], id="bad-list-item"),
    pytest.param(T + "dropout = [true]\n", [], ["task.toml:2:", "'dropout' expects list[float]"], id="bool-in-floats"),
    pytest.param(T + 'tags = "a"\n', [], ["task.toml:2:", "'tags' expects list[str], got str 'a'"], id="str-for-list"),
    pytest.param(T + "seed = [1]\n", [], ["task.toml:2:", "'seed' expects int, got list [1]"], id="list-for-int"),
    pytest.param(
        T + "[optimizer]\nbetas = [0.9]\n",
        [],
        ["task.toml:3:", "'optimizer.betas' expects list[float]"],
        id="tuple-len",
    ),
    pytest.param(
        T + '[train]\nmax_steps = "10"\n', [], ["task.toml:3:", "'train.max_steps' expects int | None"], id="optional"
    ),
    pytest.param(T + "extra = 3\n", [], ["task.toml:2:", "'extra' expects dict, got int 3"], id="int-for-dict"),
    pytest.param(
        T + "optimizer = 3\n", [], ["task.toml:2:", "field 'optimizer' is a section"], id="scalar-for-section"
    ),
    pytest.param(T + "[seed]\nx = 1\n", [], ["task.toml:2:", "'seed' expects int, got dict"], id="table-for-leaf"),
    pytest.param(
        T + 'dataset = "cifar"\n',
        [],
        ["task.toml:2:", "'dataset' must be one of 'digits', 'mnist', got str 'cifar'"],
        id="out-of-choices",
    ),
    pytest.param(
        T + '[optimizer]\nkind = "adamax"\n',
        [],
        ["task.toml:3:", "'optimizer.kind' expects one of 'adam', 'adamw', 'sgd', got str 'adamax'"],
        id="literal",
    ),
    pytest.param(T + 'optimizer = { lr = "x" }\n', [], ["task.toml:2:", "'optimizer.lr'"], id="inline-table"),
    pytest.param(T + '"seed" = "x"\n', [], ["task.toml:2:", "'seed' expects int"], id="quoted-key"),
    pytest.param(
        T + '[logger.wandb]\nproject = """\nenabled = 1\n"""\nenabled = 2\n',
        [],
        ["task.toml:6:", "'logger.wandb.enabled' expects bool, got int 2"],
        id="multiline-string",
    ),
    pytest.param(T, ["seed"], ["override 'seed': expected KEY=VALUE"], id="override-no-eq"),
    pytest.param(T, ["=3"], ["override '=3': expected KEY=VALUE"], id="override-empty-key"),
    pytest.param(T, ["a..b=1"], ["override 'a..b=1': bad key"], id="override-bad-key"),
    pytest.param(
        T,
        ["optimzer.lr=1"],
        ["override 'optimzer.lr=1': unknown field", "did you mean 'optimizer.lr'"],
        id="ovr-unknown",
    ),
    pytest.param(
        T + "[train]\nmax_steps = 5\n",
        ["train.max_steps=abc"],
        ["override 'train.max_steps=abc': field 'train.max_steps' expects int | None, got str 'abc'"],
        id="override-wrong-type",
    ),
    pytest.param(
        T, ["seed=true"], ["override 'seed=true': field 'seed' expects int, got bool True"], id="ovr-bool-int"
    ),
    pytest.param(T, ["dataset=cifar"], ["override 'dataset=cifar'", "must be one of"], id="override-choices"),
    pytest.param(T, ["seed.x=1"], ["override 'seed.x=1'", "field 'seed' expects int"], id="override-into-leaf"),
    pytest.param(T, ["optimizer=3"], ["override 'optimizer=3'", "is a section"], id="override-section"),
    pytest.param(None, [], ["task.toml: no such file"], id="missing-file"),
    pytest.param(DIRECTORY, [], ["task.toml: is a directory"], id="directory"),
    pytest.param("seed = 1\n", [], ["task.toml: missing top-level key task"], id="missing-task"),
    pytest.param("task = 3\n", [], ["task.toml:1:", "must be a string", "int 3"], id="task-not-string"),
    pytest.param("\n[task]\nx = 1\n", [], ["task.toml:2:", "must be a string", "dict"], id="task-table"),
    pytest.param('task = "nocolon"\n', [], ["task.toml:1:", "expected 'package.module:ClassName'"], id="task-spec"),
    pytest.param(
        'task = "cfgtest_mnst:GoodTask"\n',
        [],
        ["task.toml:1: task 'cfgtest_mnst:GoodTask': no module named 'cfgtest_mnst'"],
        id="task-module-missing",
    ),
    pytest.param(
        'task = "nopkg_xyz.sub:Task"\n', [], ["task.toml:1:", "no module named 'nopkg_xyz'"], id="task-package-missing"
    ),
    pytest.param(
        'task = "cfgtest_tasks:Foo"\n',
        [],
        ["task.toml:1:", "module 'cfgtest_tasks' has no attribute 'Foo'"],
        id="task-class-missing",
    ),
    pytest.param(
        'task = "cfgtest_broken:Task"\n',
        [],
        [
            "task.toml:1:",
            "task 'cfgtest_broken:Task': importing 'cfgtest_broken' failed: ZeroDivisionError: division by",
        ],
        id="task-module-raises",
    ),
    pytest.param(
        'task = "cfgtest_baddep:Task"\n',
        [],
        ["importing 'cfgtest_baddep' failed: ModuleNotFoundError", "nonexistent_dep_xyz"],
        id="task-dependency-missing",
    ),
    pytest.param('task = "cfgtest_syntax:Task"\n', [], ["importing 'cfgtest_syntax' failed: SyntaxError"], id="syntax"),
    pytest.param(
        'task = "cfgtest_tasks:NoConfig"\n',
        [],
        ["task.toml:1:", "task 'cfgtest_tasks:NoConfig' is not a task class (no config_class)"],
        id="no-config-class",
    ),
    pytest.param(
        'task = "cfgtest_tasks:BadConfigClass"\n', [], ["is not a task class"], id="config-class-not-dataclass"
    ),
    pytest.param('task = "cfgtest_tasks:not_a_class"\n', [], ["is not a task class"], id="task-is-function"),
    pytest.param(
        T,
        ["task=cfgtest_tasks:Nope"],
        ["override 'task=cfgtest_tasks:Nope'", "no attribute 'Nope'"],
        id="task-override",
    ),
    pytest.param(
        'task = "cfgtest_tasks:RequiredTask"\nsize = 2\n',
        [],
        ["task.toml", "missing required field 'name'"],
        id="missing-required",
    ),
    pytest.param(
        'task = "cfgtest_tasks:CheckedTask"\nsteps = -1\n',
        [],
        ["task.toml", "steps must be >= 0"],
        id="post-init-raises",
    ),
    pytest.param(
        'task = "cfgtest_tasks:UndocumentedTask"\n',
        [],
        ["UndocumentedConfig.width", "field(default, help=...)"],
        id="field-without-help",
    ),
]


@pytest.mark.parametrize(("text", "overrides", "expected"), CORPUS)
def test_bad_input_corpus(case_dir: Path, text: str | None, overrides: list[str], expected: list[str]) -> None:
    path = case_dir / "task.toml"
    if text == DIRECTORY:
        path.mkdir()
    elif text is not None:
        path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_run_spec(path, overrides)
    message = str(info.value)
    assert "\n" not in message
    for part in expected:
        assert part in message, f"{part!r} not in {message!r}"


def test_corpus_is_large_enough() -> None:
    assert len(CORPUS) >= 35


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "x.toml"
    path.write_bytes(b"a = '\xff\xfe'\n")
    with pytest.raises(ConfigError, match=r"x\.toml: not UTF-8 text"):
        load_toml(path)


def test_toml_error_has_no_tomllib_position(tmp_path: Path) -> None:
    path = write(tmp_path, 'a = 1\nb = "x\n')
    with pytest.raises(ConfigError) as info:
        load_toml(path)
    assert str(info.value) == f"{path}:2:7: invalid TOML: Illegal character '\\n'"


def test_config_error_is_one_line() -> None:
    assert str(ConfigError("a\n  b\r\nc")) == "a b c"


def test_defaults(case_dir: Path, mod: ModuleType) -> None:
    spec = load_run_spec(write(case_dir, T))
    assert spec.task_cls is mod.GoodTask
    assert spec.task_spec == "cfgtest_tasks:GoodTask"
    assert spec.toml_text == T
    assert spec.config == mod.TaskConfig()
    assert spec.config.optimizer.betas == (0.9, 0.999)
    assert spec.config.train.max_steps is None


def test_nested_sections(case_dir: Path, mod: ModuleType) -> None:
    text = T + textwrap.dedent("""
        seed = 7
        train.batch_size = 8
        optimizer = { lr = 2, kind = "sgd" }

        [logger]
        every = 5

        [logger.wandb]
        project = "p"
        enabled = true
    """)
    cfg = load_run_spec(write(case_dir, text)).config
    assert cfg.seed == 7
    assert cfg.train.batch_size == 8
    assert cfg.optimizer.lr == 2.0 and type(cfg.optimizer.lr) is float
    assert cfg.optimizer.kind == "sgd"
    assert cfg.logger == mod.LoggerConfig(every=5, wandb=mod.WandbConfig(project="p", enabled=True))


def test_overrides(case_dir: Path, mod: ModuleType) -> None:
    overrides = [
        "optimizer.lr=1",
        "optimizer.betas=[0.5, 0.6]",
        "hidden=[1,2,3]",
        "dropout=[0, 0.5]",
        "train.compile=false",
        "train.max_steps=100",
        "logger.wandb.project=my-proj",
        'tags=["a b", "c"]',
        "extra={depth = 2, name = 'x'}",
        "dataset = mnist",
        "seed=3",
        "seed=4",
    ]
    cfg = load_run_spec(write(case_dir, T + "seed = 1\n"), overrides).config
    assert type(cfg.optimizer.lr) is float and cfg.optimizer.lr == 1.0
    assert cfg.optimizer.betas == (0.5, 0.6)
    assert cfg.hidden == [1, 2, 3]
    assert cfg.dropout == [0.0, 0.5] and all(type(x) is float for x in cfg.dropout)
    assert cfg.train.compile is False
    assert cfg.train.max_steps == 100
    assert cfg.logger.wandb.project == "my-proj"
    assert cfg.tags == ["a b", "c"]
    assert cfg.extra == {"depth": 2, "name": "x"}
    assert cfg.dataset == "mnist"
    assert cfg.seed == 4


def test_task_override_swaps_task(case_dir: Path, mod: ModuleType) -> None:
    spec = load_run_spec(write(case_dir, T), ["task=cfgtest_tasks:RequiredTask", "name=abc"])
    assert spec.task_cls is mod.RequiredTask
    assert spec.task_spec == "cfgtest_tasks:RequiredTask"
    assert spec.config == mod.RequiredConfig(name="abc")


def test_apply_overrides_values() -> None:
    data = {"a": {"b": 1}, "c": 2}
    out = apply_overrides(data, ["a.b=3e-4", "a.d.e=true", "c=2024-01-01", "s=x=y", "q='quoted'", "e="])
    assert data == {"a": {"b": 1}, "c": 2}
    assert out == {"a": {"b": 3e-4, "d": {"e": True}}, "c": "2024-01-01", "s": "x=y", "q": "quoted", "e": ""}


def test_build_config_overrides_are_idempotent(mod: ModuleType) -> None:
    overrides = ["optimizer.lr=0.5", "train=", "train.batch_size=4"]
    once = build_config(mod.TaskConfig, {"seed": 2}, overrides=overrides)
    twice = build_config(mod.TaskConfig, apply_overrides({"seed": 2}, overrides), overrides=overrides)
    assert once == twice
    assert once.optimizer.lr == 0.5 and once.train.batch_size == 4 and once.seed == 2


def test_build_config_without_text_names_source(mod: ModuleType) -> None:
    with pytest.raises(ConfigError, match=r"^<config>: field 'seed' expects int, got str 'x'$"):
        build_config(mod.TaskConfig, {"seed": "x"})
    with pytest.raises(ConfigError, match=r"^cfg\.toml:3: unknown field 'sed'"):
        build_config(mod.TaskConfig, {"sed": 1}, source="cfg.toml", toml_text="\n\nsed = 1\n")


def test_build_config_accepts_instances(mod: ModuleType) -> None:
    opt = mod.OptimizerConfig(lr=0.1)
    cfg = build_config(mod.TaskConfig, {"optimizer": opt, "train": {"max_steps": None}})
    assert cfg.optimizer == opt
    assert cfg.train.max_steps is None


def test_round_trip(tmp_path: Path, mod: ModuleType) -> None:
    cfg = build_config(
        mod.TaskConfig,
        {"seed": 5, "tags": ["x"], "extra": {"k": [1, 2]}, "optimizer": {"betas": [0.1, 0.2]}}
        | {"train": {"compile": False, "max_steps": 9}},
    )
    path = tmp_path / "out" / "config.toml"
    path.parent.mkdir()
    save_toml(cfg, path)
    assert [p.name for p in path.parent.iterdir()] == ["config.toml"]
    assert build_config(mod.TaskConfig, load_toml(path)) == cfg
    save_toml(mod.TaskConfig(), path)
    assert build_config(mod.TaskConfig, load_toml(path)) == mod.TaskConfig()
    assert "max_steps" not in path.read_text()


def test_config_to_dict(mod: ModuleType) -> None:
    data = config_to_dict(mod.TaskConfig(extra={"a": None, "b": (1, 2)}))
    assert data["optimizer"] == {"lr": 0.001, "kind": "adamw", "betas": [0.9, 0.999]}
    assert data["train"] == {"batch_size": 32, "compile": True}
    assert data["extra"] == {"b": [1, 2]}
    assert data["logger"] == {"every": 10, "wandb": {"project": "xax", "enabled": False}}
    tomllib.loads(__import__("tomli_w").dumps(data))


def test_schema(mod: ModuleType) -> None:
    schema = config_schema(mod.TaskConfig)
    names = [row["name"] for row in schema]
    assert names == [
        "dataset",
        "hidden",
        "dropout",
        "tags",
        "extra",
        "seed",
        "optimizer.lr",
        "optimizer.kind",
        "optimizer.betas",
        "train.max_steps",
        "train.batch_size",
        "train.compile",
        "logger.every",
        "logger.wandb.project",
        "logger.wandb.enabled",
    ]
    by_name = {row["name"]: row for row in schema}
    assert all(set(row) == {"name", "section", "type", "default", "help", "choices"} for row in schema)
    assert all(isinstance(row["help"], str) and row["help"] for row in schema)
    assert by_name["optimizer.lr"] == {
        "name": "optimizer.lr",
        "section": "optimizer",
        "type": "float",
        "default": 0.001,
        "help": "Peak learning rate.",
        "choices": None,
    }
    assert by_name["optimizer.kind"]["type"] == "str"
    assert by_name["optimizer.kind"]["choices"] == ["adam", "adamw", "sgd"]
    assert by_name["dataset"]["choices"] == ["digits", "mnist"]
    assert by_name["dataset"]["section"] == ""
    assert by_name["logger.wandb.project"]["section"] == "logger.wandb"
    types = {name: row["type"] for name, row in by_name.items()}
    assert types["hidden"] == "list[int]"
    assert types["dropout"] == "list[float]"
    assert types["tags"] == "list[str]"
    assert types["extra"] == "dict"
    assert types["train.max_steps"] == "int | None"
    assert types["train.compile"] == "bool"
    assert types["optimizer.betas"] == "list[float]"
    assert by_name["optimizer.betas"]["default"] == [0.9, 0.999]
    assert by_name["hidden"]["default"] == [64, 64]


def test_schema_required_field(mod: ModuleType) -> None:
    row = config_schema(mod.RequiredConfig)[0]
    assert row["name"] == "name" and row["default"] is None and row["type"] == "str"


def test_field(mod: ModuleType) -> None:
    Outer, Inner = mod.Outer, mod.Inner
    a, b = Outer(needed="a"), Outer(needed="b")
    a.items.append(2)
    assert b.items == [1]
    assert a.inner == Inner() and a.inner is not b.inner
    f = {f.name: f for f in dataclasses.fields(Outer)}
    assert f["items"].metadata["help"] == "items"
    assert f["needed"].default is MISSING and f["needed"].default_factory is MISSING
    with pytest.raises(TypeError):
        field(1)  # ty: ignore[missing-argument]


def test_import_object_search_paths(tmp_path: Path) -> None:
    pkg = tmp_path / "cfgtest_pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "things.py").write_text("class Outer:\n    class Inner:\n        value = 42\n")
    obj = import_object("cfgtest_pkg.things:Outer.Inner", search_paths=[tmp_path, str(tmp_path), tmp_path / "."])
    assert obj.value == 42
    assert sys.path.count(str(tmp_path.resolve())) == 1
    assert sys.path[0] == str(tmp_path.resolve())
    with pytest.raises(ConfigError, match=r"^task 'cfgtest_pkg.gone:X': no module named 'cfgtest_pkg.gone'$"):
        import_object("cfgtest_pkg.gone:X")
    with pytest.raises(ConfigError, match=r"object 'cfgtest_pkg.things.Outer' has no attribute 'Nope'"):
        import_object("cfgtest_pkg.things:Outer.Nope")
    for bad in ["cfgtest_pkg.things", "cfgtest_pkg.things:", ":Outer", "a b:C", "x:1y"]:
        with pytest.raises(ConfigError, match=r"expected 'package\.module:ClassName'"):
            import_object(bad)


def test_task_field_named_like_an_engine_setting_is_refused_with_a_hint(tmp_path):
    toml = tmp_path / "misplaced.toml"
    toml.write_text('task = "tests.fixtures.tasks.misplaced_task:MisplacedTask"\nmax_steps = 5\n')
    proc = run_engine("run", str(toml), "--runs-dir", str(tmp_path / "runs"))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "did you mean train.max_steps?" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_config_written_says_optimizer_custom_when_get_optimizer_is_overridden(tmp_path):
    toml = tmp_path / "custom.toml"
    toml.write_text('task = "tests.fixtures.tasks.custom_optimizer_task:CustomOptimizerTask"\nhidden = 32\n')
    overrides = ["train.max_steps=4", "train.valid_every_n_steps=0", "logger.tensorboard=false", "stats.enabled=false"]
    runs = tmp_path / "runs"
    proc = run_engine("run", str(toml), *overrides, "--runs-dir", str(runs), "--run-id", "c")
    assert proc.returncode == 0, proc.stderr
    text = next(runs.glob("*/c/config.toml")).read_text()
    assert "# optimizer = custom: CustomOptimizerTask.get_optimizer builds it" in text
    assert tomllib.loads(text)["optimizer"]["kind"] == "adamw"  # still a config the engine can load and resume
