"""The config loader under random TOML and overrides: every outcome is a built config or one ConfigError line."""

import string
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from xaxengine.config import ConfigError, config_schema, load_run_spec
from xaxengine.config.sections import SupervisedConfig

NAMES = [row["name"] for row in config_schema(SupervisedConfig)] + ["hidden", "depth", "dataset", "nope", "train"]
SCALARS = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.text(alphabet=string.printable, max_size=12),
)
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3), max_leaves=6)
RAW = st.text(alphabet=string.printable + "[]{}=\"'.#", max_size=60)


def toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return {"nan": "nan", "inf": "inf", "-inf": "-inf"}.get(repr(value), repr(value))
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r") + '"'
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return repr(value)


def check(path: Path, overrides: list[str]) -> None:
    try:
        load_run_spec(path, overrides)
    except ConfigError as error:
        message = str(error)
        assert message and "\n" not in message and "Traceback" not in message


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    entries=st.lists(st.tuples(st.sampled_from(NAMES), VALUES), max_size=6),
    overrides=st.lists(
        st.one_of(RAW, st.tuples(st.sampled_from(NAMES), VALUES).map(lambda kv: f"{kv[0]}={toml_value(kv[1])}")),
        max_size=4,
    ),
)
def test_random_fields_and_overrides_give_a_config_or_one_line(tmp_path: Path, entries: list, overrides: list[str]):
    lines = ['task = "tasks.mnist:MnistTask"']
    lines += [f"{name} = {toml_value(value)}" for name, value in entries]
    path = tmp_path / "fuzz.toml"
    path.write_text("\n".join(lines) + "\n")
    check(path, overrides)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=200), overrides=st.lists(RAW, max_size=3))
def test_random_text_gives_a_config_or_one_line(tmp_path: Path, text: str, overrides: list[str]):
    path = tmp_path / "raw.toml"
    path.write_text('task = "tasks.mnist:MnistTask"\n' + text, encoding="utf-8", errors="surrogatepass")
    check(path, overrides)
