"""Compilation: ahead-of-time jit with donated buffers, timed, with an optional persistent cache."""

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jax

from xaxengine.config import field
from xaxengine.task.mixins.base import BaseTask


@dataclass(kw_only=True)
class CompileConfig:
    """XLA compilation."""

    donate_buffers: bool = field(True, help="Donate the train state to the step so XLA updates it in place.")
    cache_dir: str = field("", help="Persistent compilation cache folder (reused across runs); empty disables it.")


@dataclass(kw_only=True)
class CompileMixinConfig:
    """Config section of the compile mixin."""

    compile: CompileConfig = field(CompileConfig, help="Compilation settings.")


class CompileMixin[ConfigT: CompileMixinConfig](BaseTask[ConfigT]):
    """Compiles step functions ahead of time so compile time is measured and reported apart from training."""

    def configure_compilation(self) -> None:
        """Enables the persistent compilation cache when configured."""
        cache_dir = self.config.compile.cache_dir
        if cache_dir:
            Path(cache_dir).mkdir(parents=True, exist_ok=True)
            jax.config.update("jax_compilation_cache_dir", cache_dir)
            jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)

    def compile_step(
        self, fn: Callable[..., Any], args: Sequence[Any], donate_argnums: tuple[int, ...] = ()
    ) -> tuple[Callable[..., Any], float]:
        """Lowers and compiles ``fn`` for ``args``; returns the compiled callable and the seconds it took."""
        start = time.perf_counter()
        donate = donate_argnums if self.config.compile.donate_buffers else ()
        compiled = jax.jit(fn, donate_argnums=donate).lower(*args).compile()
        return compiled, time.perf_counter() - start
