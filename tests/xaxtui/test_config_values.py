"""Config values as the form reads and checks them: types, choices and the engine's bounds, and the search match."""

import re

import pytest

from xaxtui.config_values import bounds_hint, check_text, format_value, matches, parse_value, value_problem

LR = {"name": "optimizer.lr", "type": "float", "ge": 0.0, "help": "Peak learning rate."}
B1 = {"name": "optimizer.b1", "type": "float", "ge": 0.0, "lt": 1.0, "help": "First moment decay."}
STEPS = {"name": "train.max_steps", "type": "int", "ge": 0, "lt": 2**53, "help": "Number of optimizer steps."}
KIND = {"name": "optimizer.kind", "type": "str", "choices": ["adam", "adamw", "sgd"], "help": "Optimizer."}


@pytest.mark.parametrize(
    ("spec", "text", "reason"),
    [
        (STEPS, "-1", "must be >= 0"),
        (STEPS, "1.5", "expected int"),
        (STEPS, "", "expected int"),
        (LR, "fast", "expected float"),
        (LR, "-1e-3", "must be >= 0"),
        (LR, "nan", "must be >= 0"),
        (B1, "1.0", "must be < 1"),
        (KIND, "rmsprop", "must be one of adam, adamw, sgd"),
        ({"name": "x", "type": "bool"}, "yes", "expected true or false"),
        ({"name": "x", "type": "dict"}, "[1]", 'expected a table, e.g. {"key": 1}'),
        ({"name": "x", "type": "list[int]"}, "1, two", "expected int"),
    ],
)
def test_bad_text_gets_a_one_line_reason(spec, text, reason):
    with pytest.raises(ValueError, match=f"^{re.escape(reason)}$"):
        check_text(spec, text)


@pytest.mark.parametrize(
    ("spec", "text", "value"),
    [
        (STEPS, " 1500 ", 1500),
        (LR, "3e-4", 3e-4),
        (B1, "0.999", 0.999),
        (KIND, "sgd", "sgd"),
        ({"name": "x", "type": "int | None"}, "none", None),
        ({"name": "x", "type": "list[int]"}, "[32, 64]", [32, 64]),
        ({"name": "x", "type": "dict"}, '{"a": 1}', {"a": 1}),
        ({"name": "x", "type": "bool"}, "False", False),
    ],
)
def test_good_text_parses(spec, text, value):
    assert check_text(spec, text) == value
    assert value_problem(spec, value) == ""


def test_format_round_trips_through_parse():
    for type_name, value in (("list[int]", [32, 64]), ("dict", {"a": [1, 2]}), ("bool", True), ("float", 0.001)):
        assert parse_value(type_name, format_value(value)) == value


def test_bounds_hint_leaves_out_the_json_int_limit():
    assert bounds_hint(B1) == ">= 0, < 1"
    assert bounds_hint({"gt": 0.0, "le": 1e9}) == "> 0, <= 1e+09"
    assert bounds_hint(STEPS) == ">= 0"
    assert bounds_hint(KIND) == ""


def test_search_matches_every_word_in_name_or_help():
    assert matches(LR, "lr") and matches(LR, "PEAK rate") and matches(LR, "optimizer learning")
    assert not matches(LR, "lr momentum") and not matches(B1, "lr")
