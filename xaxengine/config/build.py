"""Building typed configs from TOML data: type checks with did-you-mean, the field schema, and task specs."""

import dataclasses
import importlib
import inspect
import sys
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import MISSING
from pathlib import Path, PurePath
from typing import Any, Literal, Union

from xaxengine.config.fields import BOUNDS, ConfigError, bound_violation, did_you_mean
from xaxengine.config.toml import _key_lines, _plain, _read_toml, _split_override, apply_overrides


class _MismatchError(Exception):
    """A value does not fit a type (internal; turned into a ConfigError by the caller)."""


@dataclasses.dataclass
class _Context:
    source: str
    lines: dict[str, int]
    overrides: list[tuple[str, str]]
    names: list[str]

    def where(self, dotted: str) -> str:
        for key, override in reversed(self.overrides):
            if key == dotted or dotted.startswith(key + ".") or key.startswith(dotted + "."):
                return f"override {override!r}: "
        parts = dotted.split(".")
        for end in range(len(parts), 0, -1):
            if (line := self.lines.get(".".join(parts[:end]))) is not None:
                return f"{self.source}:{line}: "
        return f"{self.source}: "

    def error(self, dotted: str, message: str) -> ConfigError:
        return ConfigError(f"{self.where(dotted)}{message}")


def _is_section(tp: Any) -> bool:
    return isinstance(tp, type) and dataclasses.is_dataclass(tp)


def _hints(cls: type) -> dict[str, Any]:
    try:
        return typing.get_type_hints(cls)
    except Exception as e:
        raise ConfigError(f"config class {cls.__qualname__}: cannot resolve its type hints: {e}") from None


def _fields(cls: Any) -> list[tuple[dataclasses.Field, Any]]:
    hints = _hints(cls)
    return [(f, hints.get(f.name, Any)) for f in dataclasses.fields(cls) if f.init]


def _dotted_names(cls: type, prefix: str = "") -> list[str]:
    names: list[str] = []
    for f, tp in _fields(cls):
        names.append(prefix + f.name)
        if _is_section(tp):
            names.extend(_dotted_names(tp, f"{prefix}{f.name}."))
    return names


def _first_leaf(value: Any, dotted: str) -> str:
    while isinstance(value, Mapping) and value:
        key, value = next(iter(value.items()))
        dotted = f"{dotted}.{key}"
    return dotted


def _describe(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= 60 else text[:57] + '...'}"


def _literal_args(tp: Any) -> tuple[Any, ...]:
    if typing.get_origin(tp) is Literal:
        return typing.get_args(tp)
    if typing.get_origin(tp) in (Union, types.UnionType):
        return tuple(a for arg in typing.get_args(tp) for a in _literal_args(arg))
    return ()


def _type_name(tp: Any) -> str:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is Any:
        return "any"
    if origin is Literal:
        kinds = {type(a).__name__ for a in args}
        return kinds.pop() if len(kinds) == 1 else "str"
    if origin in (Union, types.UnionType):
        return " | ".join("None" if a is type(None) else _type_name(a) for a in args)
    if tp in (list, tuple) or origin in (list, tuple):
        items = {_type_name(a) for a in args if a is not Ellipsis}
        return f"list[{items.pop()}]" if len(items) == 1 else "list"
    if tp is dict or origin is dict:
        return "dict"
    return getattr(tp, "__name__", str(tp))


def _expected(tp: Any) -> str:
    if literals := _literal_args(tp):
        return "one of " + ", ".join(repr(a) for a in literals)
    return _type_name(tp)


def _coerce(value: Any, tp: Any) -> Any:
    origin, args = typing.get_origin(tp) or tp, typing.get_args(tp)
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        for arg in args:
            try:
                return _coerce(value, arg)
            except _MismatchError:
                continue
        raise _MismatchError
    if origin in (list, tuple):
        return _coerce_sequence(value, origin, args)
    if origin is dict:
        if not isinstance(value, Mapping):
            raise _MismatchError
        key_tp, value_tp = args or (Any, Any)
        return {_coerce(k, key_tp): _coerce(v, value_tp) for k, v in value.items()}
    if origin is Literal:
        for arg in args:
            if type(arg) is type(value) and arg == value:
                return arg
        raise _MismatchError
    return _coerce_scalar(value, tp)


def _coerce_sequence(value: Any, origin: Any, args: tuple[Any, ...]) -> Any:
    if not isinstance(value, list | tuple):
        raise _MismatchError
    if not args:
        return origin(value)
    if origin is list or args[-1] is Ellipsis:
        return origin(_coerce(v, args[0]) for v in value)
    if len(args) != len(value):
        raise _MismatchError
    return tuple(_coerce(v, a) for v, a in zip(value, args, strict=True))


def _coerce_scalar(value: Any, tp: Any) -> Any:
    if tp is Any:
        return value
    if tp in (int, float):
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        ok = ok and not (tp is int and isinstance(value, float))
    elif tp in (bool, str):
        ok = type(value) is tp
    elif isinstance(tp, type) and issubclass(tp, PurePath) and isinstance(value, str):
        return tp(value)
    else:
        ok = not isinstance(tp, type) or isinstance(value, tp)
    if not ok:
        raise _MismatchError
    return float(value) if tp is float else value


def _build(cls: type, data: Mapping[str, Any], prefix: str, ctx: _Context) -> Any:
    fields = _fields(cls)
    known = {f.name for f, _ in fields}
    for key, value in data.items():
        if key not in known:
            dotted = _first_leaf(value, prefix + str(key))
            raise ctx.error(dotted, f"unknown field {dotted!r}{did_you_mean(dotted, ctx.names)}")
    kwargs: dict[str, Any] = {}
    for f, tp in fields:
        dotted = prefix + f.name
        if "help" not in f.metadata:
            raise ConfigError(
                f"{cls.__qualname__}.{f.name}: declare it as field(default, help=...) so it is documented"
            )
        if f.name not in data:
            if f.default is MISSING and f.default_factory is MISSING:
                raise ctx.error(prefix.rstrip("."), f"missing required field {dotted!r}")
            continue
        value = data[f.name]
        if _is_section(tp):
            if isinstance(value, tp):
                kwargs[f.name] = value
                continue
            if not isinstance(value, Mapping):
                raise ctx.error(dotted, f"field {dotted!r} is a section ([{dotted}]), got {_describe(value)}")
            kwargs[f.name] = _build(tp, value, dotted + ".", ctx)
            continue
        kwargs[f.name] = _leaf(f, tp, value, dotted, ctx)
    try:
        return cls(**kwargs)
    except Exception as e:
        detail = str(e) if isinstance(e, ValueError) else f"{cls.__qualname__}: {type(e).__name__}: {e}"
        raise ctx.error(prefix.rstrip("."), detail) from None


def _leaf(f: dataclasses.Field, tp: Any, value: Any, dotted: str, ctx: _Context) -> Any:
    """A leaf value coerced to its type and checked against the field's bounds and choices."""
    try:
        coerced = _coerce(value, tp)
    except _MismatchError:
        raise ctx.error(dotted, f"field {dotted!r} expects {_expected(tp)}, got {_describe(value)}") from None
    if (why := bound_violation(coerced, f.metadata)) is not None:
        raise ctx.error(dotted, f"field {dotted!r} {why}, got {_describe(value)}")
    choices = f.metadata.get("choices")
    if choices is not None and coerced not in choices:
        allowed = ", ".join(repr(c) for c in choices)
        raise ctx.error(dotted, f"field {dotted!r} must be one of {allowed}, got {_describe(value)}")
    return coerced


def build_config[T](
    cls: type[T],
    data: Mapping[str, Any],
    *,
    source: str = "<config>",
    toml_text: str | None = None,
    overrides: Sequence[str] = (),
) -> T:
    """Builds a config dataclass from nested data, checking every key and type.

    Args:
        cls: The config dataclass; nested dataclass fields are TOML tables.
        data: The nested data, e.g. from :func:`load_toml`.
        source: The name used in error messages, usually the TOML file's path.
        toml_text: The TOML text behind ``data``, so errors can name a line.
        overrides: CLI overrides; they are applied to ``data`` (re-applying ones that ``data`` already has changes
            nothing) and errors caused by them name the override.

    Returns:
        The config instance.

    Raises:
        ConfigError: An unknown key (with a did-you-mean), a wrong type, a value outside its choices, a missing
            required field, or a bad override.
    """
    if not (isinstance(cls, type) and dataclasses.is_dataclass(cls)):
        raise ConfigError(f"{source}: {cls!r} is not a config dataclass")
    parsed = [(".".join(_split_override(o)[0]), o) for o in overrides]
    ctx = _Context(source, _key_lines(toml_text) if toml_text else {}, parsed, _dotted_names(cls))
    return _build(cls, apply_overrides(dict(data), overrides), "", ctx)


def config_schema(cls: type) -> list[dict]:
    """Describes every leaf field of a config class, in declaration order.

    Args:
        cls: The config dataclass.

    Returns:
        One dict per leaf field: ``name`` (dotted), ``section`` (``""`` at top level), ``type`` (``bool``, ``int``,
        ``float``, ``str``, ``list[int]``, ``int | None``, ``dict``, ...), ``default`` (``None`` when required),
        ``help``, ``choices`` (a list, or ``None``) and, for bounded numbers, ``ge``/``gt``/``le``/``lt``.
    """
    return _schema(cls, "", None)


def config_sections(cls: type, prefix: str = "") -> list[tuple[str, str]]:
    """The dotted names and help strings of every section (nested dataclass field) of a config class, in order."""
    sections: list[tuple[str, str]] = []
    for f, tp in _fields(cls):
        if _is_section(tp):
            sections.append((prefix + f.name, f.metadata.get("help", "")))
            sections.extend(config_sections(tp, f"{prefix}{f.name}."))
    return sections


def _field_default(f: dataclasses.Field, parent: Any) -> Any:
    if parent is not None:
        return getattr(parent, f.name, None)
    if f.default is not MISSING:
        return f.default
    return f.default_factory() if f.default_factory is not MISSING else None


def _schema(cls: type, section: str, defaults: Any) -> list[dict]:
    rows: list[dict] = []
    prefix = f"{section}." if section else ""
    for f, tp in _fields(cls):
        default = _field_default(f, defaults)
        if _is_section(tp):
            rows.extend(_schema(tp, prefix + f.name, default))
            continue
        choices = f.metadata.get("choices")
        if choices is None and (literals := _literal_args(tp)):
            choices = list(literals)
        row = {"name": prefix + f.name, "section": section, "type": _type_name(tp), "default": _plain(default)}
        bounds = {name: f.metadata[name] for name in BOUNDS if name in f.metadata}
        rows.append(row | {"help": f.metadata.get("help", ""), "choices": _plain(choices), **bounds})
    return rows


def import_object(spec: str, *, search_paths: Sequence[str | Path] = ()) -> Any:
    """Imports ``package.module:Name``.

    Args:
        spec: The module path and attribute, separated by a colon.
        search_paths: Folders put at the front of ``sys.path`` (once each) before importing.

    Returns:
        The imported object.

    Raises:
        ConfigError: A malformed spec, a missing module or attribute, or an exception raised by the module.
    """
    module_name, sep, attr = spec.partition(":")
    dotted_ok = all(p.isidentifier() for p in module_name.split(".")) and all(p.isidentifier() for p in attr.split("."))
    if not sep or not dotted_ok:
        raise ConfigError(f"task {spec!r}: expected 'package.module:ClassName'")
    paths = [str(Path(p).resolve()) for p in search_paths]
    for p in reversed(list(dict.fromkeys(paths))):
        while p in sys.path:
            sys.path.remove(p)
        sys.path.insert(0, p)
    importlib.invalidate_caches()
    try:
        obj: Any = importlib.import_module(module_name)
    except Exception as e:
        name = e.name if isinstance(e, ModuleNotFoundError) else None
        if name is not None and f"{module_name}.".startswith(f"{name}."):
            raise ConfigError(f"task {spec!r}: no module named {name!r}") from None
        raise ConfigError(f"task {spec!r}: importing {module_name!r} failed: {type(e).__name__}: {e}") from None
    owner = module_name
    for part in attr.split("."):
        if not hasattr(obj, part):
            kind = "module" if owner == module_name else "object"
            raise ConfigError(f"task {spec!r}: {kind} {owner!r} has no attribute {part!r}")
        obj, owner = getattr(obj, part), f"{owner}.{part}"
    return obj


def check_task_class(task_cls: Any, spec: str) -> None:
    """Refuses what cannot be a runnable task: not a class, no config dataclass, or an abstract hook left out.

    Args:
        task_cls: The imported object.
        spec: How the task was named (``module:Class``), for the message.

    Raises:
        ConfigError: One line naming the class and every hook it does not implement.
    """
    config_cls = getattr(task_cls, "config_class", None)
    if not (isinstance(task_cls, type) and isinstance(config_cls, type) and dataclasses.is_dataclass(config_cls)):
        raise ConfigError(f"task {spec!r} is not a task class (no config_class)")
    missing = sorted(getattr(task_cls, "__abstractmethods__", ()))
    if missing:
        hooks = ", ".join(
            f"{name}({', '.join(list(inspect.signature(getattr(task_cls, name)).parameters)[1:])})" for name in missing
        )
        raise ConfigError(f"task {spec!r}: {task_cls.__qualname__} does not implement {hooks}")
    problem = getattr(task_cls, "definition_problem", None)
    message = problem() if callable(problem) else None
    if message:
        raise ConfigError(f"task {spec!r}: {message}")
    misplaced = misplaced_section_fields(config_cls)
    if misplaced:
        name, dotted = misplaced[0]
        raise ConfigError(
            f"task {spec!r}: {config_cls.__qualname__}.{name} is named like the engine setting {dotted}, which the "
            f"engine reads instead (did you mean {dotted}?); rename the task's field"
        )


MISPLACEABLE_SECTIONS = ("train", "data")  # the loop's own settings; other sections' names (schedule) are generic


def misplaced_section_fields(cls: type) -> list[tuple[str, str]]:
    """Top-level fields named like a ``[train]``/``[data]`` field, e.g. ``[("max_steps", "train.max_steps")]``.

    A task's own ``max_steps`` beside ``[train]`` would be read by nobody while the engine trains for
    ``train.max_steps``.
    """
    fields = _fields(cls)
    sections = {f.name: tp for f, tp in fields if _is_section(tp) and f.name in MISPLACEABLE_SECTIONS}
    found = []
    for f, tp in fields:
        if _is_section(tp):
            continue
        for section, section_tp in sections.items():
            if any(inner.name == f.name for inner, _ in _fields(section_tp)):
                found.append((f.name, f"{section}.{f.name}"))
                break
    return found


@dataclasses.dataclass
class RunSpec:
    """A task TOML resolved into its task class and typed config."""

    path: Path
    task_spec: str
    task_cls: type
    config: Any
    toml_text: str


def load_run_spec(path: str | Path, overrides: Sequence[str] = ()) -> RunSpec:
    """Loads a task TOML: imports its ``task = "module:Class"`` and builds the task's config.

    Args:
        path: The task TOML file.
        overrides: Dotted ``KEY=VALUE`` overrides; ``task=module:Class`` swaps the task before importing.

    Returns:
        The resolved run spec.

    Raises:
        ConfigError: Anything wrong with the file, the task, the fields, their types or the overrides.
    """
    path = Path(path)
    source = str(path)
    text, data = _read_toml(path)
    data = apply_overrides(data, overrides)
    task_overrides = [o for o in overrides if _split_override(o)[0] == ["task"]]
    rest = [o for o in overrides if o not in task_overrides]
    where = f"override {task_overrides[-1]!r}: " if task_overrides else f"{source}:{_key_lines(text).get('task', 1)}: "
    if "task" not in data:
        raise ConfigError(f'{source}: missing top-level key task = "module:Class"')
    spec = data.pop("task")
    if not isinstance(spec, str):
        raise ConfigError(f'{where}task must be a string "module:Class", got {_describe(spec)}')
    folder = path.resolve().parent
    try:
        task_cls = import_object(spec, search_paths=[Path.cwd(), folder, folder.parent])
    except ConfigError as e:
        raise ConfigError(f"{where}{e}") from None
    try:
        check_task_class(task_cls, spec)
    except ConfigError as e:
        raise ConfigError(f"{where}{e}") from None
    config = build_config(task_cls.config_class, data, source=source, toml_text=text, overrides=rest)
    return RunSpec(path=path, task_spec=spec, task_cls=task_cls, config=config, toml_text=text)
