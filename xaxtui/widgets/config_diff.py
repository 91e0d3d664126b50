"""Telling compared runs apart: a label per run by what differs in the configs, and the config-diff table.

Both read the differing keys from the picker's one rule (:func:`~xaxtui.widgets.run_columns.differing_config_keys`):
a run is named by up to :data:`MAX_LABEL_KEYS` of them (``lr=0.0003 depth=3``), and by its run id's shortest
distinct tail where the configs do not tell it apart (identical configs, or no ``run_start`` yet).
"""

from collections.abc import Mapping, Sequence

from rich.text import Text
from textual.widgets import DataTable

from xaxengine.dotted import flatten
from xaxtui.state import RunState
from xaxtui.widgets.run_columns import differing_config_keys, short_label, value_text

MAX_LABEL_KEYS = 3
MAX_LABEL = 28  # fewer keys when a label would be longer (one key always)
TABLE_CELL = 40  # a diff table cell is cut to this many characters

Run = tuple[str, Mapping[str, object]]  # a run id and its flattened config


def flat_config(state: RunState) -> dict[str, object]:
    """The run's config from its ``run_start`` as dotted names (empty before it)."""
    config = state.run_start.get("config")
    return flatten(config) if isinstance(config, dict) else {}


def compared(runs: Sequence[tuple[str, RunState]]) -> list[Run]:
    """``(run id, flattened config)`` of ``(fallback name, state)`` pairs (the name until ``run_start`` says)."""
    return [(state.run_id or name, flat_config(state)) for name, state in runs]


def key_names(keys: Sequence[str]) -> dict[str, str]:
    """A short name per dotted key (``lr``), the dotted one where two keys would read the same."""
    short = [short_label(k) for k in keys]
    return {k: s if short.count(s) == 1 else k for k, s in zip(keys, short, strict=True)}


def id_tails(run_ids: Sequence[str]) -> list[str]:
    """The shortest dash-separated tails that tell the ids apart (``a1b2``; the whole id where a tail is shared)."""
    parts = [run_id.split("-") for run_id in run_ids]
    longest = max((len(p) for p in parts), default=1)
    for n in range(1, longest + 1):
        tails = ["-".join(p[-n:]) for p in parts]
        if len(set(tails)) == len(tails):
            return tails
    return list(run_ids)


def compare_labels(runs: Sequence[Run]) -> list[str]:
    """One distinct label per run: ``key=value`` for the keys that differ most, else the run id's tail.

    Every run is named by the same keys: as many of the first :data:`MAX_LABEL_KEYS` as keep each label within
    :data:`MAX_LABEL` characters, or more if that is what tells the runs apart. Runs the keys still do not tell apart
    get their id's tail after the label; a run with no config yet (no ``run_start``) is named by its id.
    """
    ids = [run_id for run_id, _ in runs]
    if len(runs) < 2:
        return ids
    keys = differing_config_keys([config for _, config in runs], most=MAX_LABEL_KEYS)
    names = key_names(keys)

    def labels(n: int) -> list[str | None]:
        return [" ".join(f"{names[k]}={value_text(c.get(k))}" for k in keys[:n]) if c else None for _, c in runs]

    n = len(keys)
    while n > 1 and any(len(label or "") > MAX_LABEL for label in labels(n)):
        n -= 1
    while n < len(keys) and len(set(labels(n))) < len(runs):
        n += 1
    chosen = labels(n)
    out = []
    for text, tail, run_id in zip(chosen, id_tails(ids), ids, strict=True):
        if text is None:
            out.append(run_id)
        elif text and chosen.count(text) == 1:
            out.append(text)
        else:
            out.append(f"{text} {tail}".strip())
    return out


def labelled(runs: Sequence[tuple[str, RunState]]) -> list[tuple[str, RunState]]:
    """``(name, state)`` pairs as charts draw them: one run keeps its name, compared runs get :func:`compare_labels`."""
    if len(runs) < 2:
        return list(runs)
    return list(zip(compare_labels(compared(runs)), (state for _, state in runs), strict=True))


def diff_rows(runs: Sequence[Run]) -> list[tuple[str, list[str]]]:
    """Every key whose values differ across ``runs`` (widest spread first), with each run's value (``-``: none)."""
    keys = differing_config_keys([config for _, config in runs], most=None)
    return [(key, [value_text(config.get(key), TABLE_CELL) for _, config in runs]) for key in keys]


def diff_summary(runs: Sequence[Run], rows: Sequence[object]) -> str:
    """One line over the table: how many keys differ, or that the configs are identical (or not known yet)."""
    known = sum(1 for _, config in runs if config)
    waiting = f"; {len(runs) - known} without a config yet (no run_start)" if known < len(runs) else ""
    if not rows:
        return f"the {len(runs)} compared runs' configs are identical{waiting}"
    keys = max((len(config) for _, config in runs), default=0)
    return f"{len(rows)} of {keys} config keys differ across {len(runs)} runs{waiting}"


class ConfigDiffTable(DataTable):
    """The differing keys as rows, one column per compared run (headed by its label), the run ids first."""

    def show(self, runs: Sequence[Run], labels: Sequence[str]) -> list[tuple[str, list[str]]]:
        """Fills the table from ``runs`` named by ``labels``; returns the rows shown."""
        rows = diff_rows(runs)
        self.clear(columns=True)
        self.add_column("key", key="key")
        for i, label in enumerate(labels):
            self.add_column(label, key=f"run{i}")
        self.add_row(Text("run id", style="dim"), *(Text(run_id, style="dim") for run_id, _ in runs), key="run id")
        for key, values in rows:
            self.add_row(key, *values, key=key)
        return rows
