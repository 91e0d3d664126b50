"""What tells the picker's runs apart: the config keys that differ ("diff only"), row text, filter and sort (no UI).

The differing keys are the dotted config names whose values are not all equal over the listed runs; the widest
spread (most distinct values) comes first, and only as many as fit the width are shown.
"""

import math
import time
from collections.abc import Mapping, Sequence

from xaxtui.catalog import RunInfo

MAX_DIFF_COLUMNS = 6
CONFIG_COLUMN = "config:"  # a diff column's key is this plus the dotted name (``config:optimizer.lr``)
DIFF_CELL_WIDTH = 12  # a diff column's cell is cut to this many characters


def value_text(value: object, width: int = DIFF_CELL_WIDTH) -> str:
    """A config value as a short cell (``0.002``, ``3e-04``, ``true``, ``-`` when missing), cut to ``width``."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.4g}" if math.isfinite(value) else str(value)
    text = str(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def differing_keys(runs: Sequence[RunInfo], width: int | None = None) -> list[str]:
    """The dotted config keys whose values are not all equal over ``runs``, widest spread first.

    Args:
        runs: The listed runs.
        width: Cells left for diff columns (None: no limit but :data:`MAX_DIFF_COLUMNS`).
    """
    return differing_config_keys([r.config for r in runs], width)


def differing_config_keys(
    configs: Sequence[Mapping[str, object]], width: int | None = None, most: int | None = MAX_DIFF_COLUMNS
) -> list[str]:
    """The dotted keys whose values are not all equal over flattened ``configs``, widest spread first.

    An empty config (a Slurm run still queued, a run before its ``run_start``) says nothing and is left out.

    Args:
        configs: Flattened configs (dotted name -> value), one per run.
        width: Cells left for diff columns (None: no limit but ``most``).
        most: At most this many keys (None: every differing key).
    """
    configs = [c for c in configs if c]
    if len(configs) < 2:
        return []
    keys = dict.fromkeys(k for c in configs for k in c)
    spread = {k: len({repr(c.get(k)) for c in configs}) for k in keys}
    ranked = sorted((k for k in keys if spread[k] > 1), key=lambda k: -spread[k])  # stable: config order on ties
    chosen: list[str] = []
    used = 0
    for key in ranked if most is None else ranked[:most]:
        cost = max(len(short_label(key)), *(len(value_text(c.get(key))) for c in configs)) + 2
        if width is not None and used + cost > width:
            break
        chosen.append(key)
        used += cost
    return chosen


def short_label(key: str) -> str:
    """A diff column's header: the last part of the dotted name (``optimizer.lr`` -> ``lr``)."""
    return key.rsplit(".", 1)[-1]


def duration_text(seconds: float | None) -> str:
    """``1:02:03``, ``4:05`` or ``-``."""
    if seconds is None:
        return "-"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def loss_text(loss: float | None) -> str:
    """A loss cell (``0.4738`` or ``-``)."""
    return f"{loss:.4g}" if loss is not None else "-"


def started_text(t: float) -> str:
    """The start time as ``2026-11-25 06:00``."""
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(t))


def fields(run: RunInfo, diff_keys: Sequence[str]) -> dict[str, str]:
    """The run's filterable text by column name (diff columns by short and dotted name, config by dotted name)."""
    out = {
        "task": run.task,
        "run id": run.run_id,
        "id": run.run_id,
        "status": run.state,
        "state": run.state,
        "step": str(run.step),
        "loss": loss_text(run.last_loss),
        "best valid": loss_text(run.best_valid_loss),
        "valid": loss_text(run.best_valid_loss),
        "duration": duration_text(run.duration_s),
        "started": started_text(run.started_t),
        "tags": " ".join(run.tags),
        "tag": " ".join(run.tags),
        "note": run.note,
    }
    out.update({k: value_text(v) if isinstance(v, float) else str(v) for k, v in run.config.items()})
    out.update({short_label(k): out[k] for k in diff_keys if k in out})
    return out


def matches(run: RunInfo, query: str, diff_keys: Sequence[str] = ()) -> bool:
    """Whether the run passes a filter: space-separated terms, all must hold.

    A ``key=value`` term holds when that column (or dotted config key) contains ``value``; ``key=value`` on a tag
    column matches one whole tag. Any other term is a substring of some column. Case is ignored.
    """
    texts = {k.lower(): v.lower() for k, v in fields(run, diff_keys).items()}
    for term in query.lower().split():
        name, eq, want = term.partition("=")
        if eq and name in texts:
            got = texts[name]
            ok = want in got.split() if name in {"tags", "tag"} else want in got
        else:
            ok = any(term in text for text in texts.values())
        if not ok:
            return False
    return True


def sort_key(run: RunInfo, column: str) -> tuple[int, float, str]:
    """A key ordering runs by one column (``config:NAME`` for a config value): numbers as numbers, missing last."""
    numbers = {
        "step": float(run.step),
        "loss": run.last_loss,
        "best valid": run.best_valid_loss,
        "duration": run.duration_s,
        "started": run.started_t,
    }
    if column in numbers:
        value = numbers[column]
        return (1, 0.0, "") if value is None else (0, value, "")
    if column == "tags":
        text = " ".join(run.tags)
    elif column in {"task", "run id", "status"}:
        text = {"task": run.task, "run id": run.run_id, "status": run.state}[column]
    else:
        value = run.config.get(column.removeprefix(CONFIG_COLUMN))
        if isinstance(value, int | float) and not isinstance(value, bool):
            return (0, float(value), "")
        text = "" if value is None else str(value)
    return (1, 0.0, "") if not text else (0, 0.0, text.lower())
