"""Cadence as data: everything periodic in the loop is a :class:`Hook` in one :class:`HookRegistry`.

The trainer registers its own hooks (train log, validation, ``log_heavy``, checkpoints by steps and by seconds, the
profiler window) the same way a task registers its own from :meth:`get_hooks`::

    def get_hooks(self) -> list[xax.Hook]:
        return [xax.Hook(self.dump_weights, every_n_steps=500), xax.Hook(self.ping, every_n_seconds=60)]

    def dump_weights(self, step: int, model: PyTree, metrics: Mapping[str, float]) -> None: ...

After every optimizer step the trainer asks the registry which hooks are due and calls each one with the step, the
model (params and static part combined) and the latest logged metrics (``"train/loss"``, ``"valid/accuracy"``...).
Hooks run on the host between steps: keep them short or hand work to a thread.
"""

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

HookFn = Callable[[int, Any, Mapping[str, float]], None]


@dataclass(eq=False)
class Hook:
    """A callback and when to call it; any of the triggers makes it due.

    Attributes:
        fn: Called as ``fn(step, model, metrics)``.
        every_n_steps: After every step that is a multiple of this (0: never by steps).
        every_n_seconds: When this many seconds passed since it last ran, or since training started (0: never).
        at_end: Also after the last step (``train.max_steps``), whatever the cadence says.
        at_steps: Also after exactly these steps.
        name: For error messages; the function's name by default.
    """

    fn: HookFn
    every_n_steps: int = 0
    every_n_seconds: float = 0.0
    at_end: bool = False
    at_steps: Sequence[int] = ()
    name: str = ""

    def __post_init__(self) -> None:
        if self.every_n_steps < 0 or not self.every_n_seconds >= 0 or math.isinf(self.every_n_seconds):
            raise ValueError(f"hook {self.label}: every_n_steps and every_n_seconds must be >= 0 and finite")
        self.at_steps = tuple(sorted(set(self.at_steps)))

    @property
    def label(self) -> str:
        """The hook's name, or its function's."""
        return self.name or getattr(self.fn, "__qualname__", repr(self.fn))


@dataclass
class HookRegistry:
    """The hooks of one run, in the order they run, and the clock that times the ones by seconds."""

    clock: Callable[[], float] = time.monotonic
    hooks: list[Hook] = field(default_factory=list)
    _last_ran: dict[int, float] = field(default_factory=dict)
    _next_step: float = 0  # no hook is due by steps before this step (a fast path for the per-step walk)
    _timed: bool = False

    def add(self, hook: Hook) -> Hook:
        """Appends a hook (it runs after those added before it in the same step)."""
        self.hooks.append(hook)
        self._timed = self._timed or hook.every_n_seconds > 0
        return hook

    def start(self, step: int) -> None:
        """Starts the clocks of the hooks by seconds, and the step cadence from ``step`` (the loop's first step)."""
        now = self.clock()
        self._last_ran = {id(hook): now for hook in self.hooks}
        self._next_step = self._next_due_step(step)

    def _next_due_step(self, step: int) -> float:
        candidates = [(step // h.every_n_steps + 1) * h.every_n_steps for h in self.hooks if h.every_n_steps]
        candidates += [s for h in self.hooks for s in h.at_steps if s > step]
        return min(candidates, default=math.inf)

    def due(self, step: int, last: bool) -> list[Hook]:
        """The hooks due after the step that brought the run to ``step``, in registration order.

        Hooks by seconds are due until :meth:`ran` records that they ran (the trainer may postpone one, e.g. a
        checkpoint every process must agree on).
        """
        if step < self._next_step and not last and not self._timed:
            return []
        now = self.clock() if self._timed else 0.0
        due = [hook for hook in self.hooks if self._is_due(hook, step, last, now)]
        if step >= self._next_step:
            self._next_step = self._next_due_step(step)
        return due

    def _is_due(self, hook: Hook, step: int, last: bool, now: float) -> bool:
        if last and hook.at_end:
            return True
        if hook.every_n_steps and step % hook.every_n_steps == 0:
            return True
        if step in hook.at_steps:
            return True
        return bool(hook.every_n_seconds) and now - self._last_ran.get(id(hook), now) >= hook.every_n_seconds

    def by_seconds_only(self, hook: Hook, step: int, last: bool) -> bool:
        """Whether ``hook`` is due at ``step`` only because of its seconds cadence (not by steps or at the end)."""
        return not ((last and hook.at_end) or (hook.every_n_steps and step % hook.every_n_steps == 0))

    def ran(self, hook: Hook) -> None:
        """Records that ``hook`` ran now (restarts its seconds cadence)."""
        self._last_ran[id(hook)] = self.clock()
