"""Compilation: ahead-of-time jit with donated buffers, timed, with an optional persistent cache."""

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp

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
    ) -> tuple[Callable[..., Any], Any, float]:
        """Lowers and compiles ``fn`` for ``args``.

        Under ``jax_debug_nans`` the step runs without donation and its outputs are checked after every call; the
        first call that returns a NaN is re-run op by op, where jax raises ``FloatingPointError`` naming the
        primitive that made it (jit's own check is skipped on its C++ fast path, so it cannot be relied on).

        Returns:
            The callable to step with, the compiled executable (for its cost analysis) and the compile seconds.
        """
        start = time.perf_counter()
        debug_nans = bool(jax.config.jax_debug_nans)
        donate = donate_argnums if self.config.compile.donate_buffers and not debug_nans else ()
        compiled = jax.jit(fn, donate_argnums=donate).lower(*args).compile()
        seconds = time.perf_counter() - start
        return (_nan_checked(fn, compiled) if debug_nans else compiled), compiled, seconds


def _nan_checked(fn: Callable[..., Any], compiled: Callable[..., Any]) -> Callable[..., Any]:
    """``compiled``, but a call whose outputs hold a NaN is re-run op by op so jax names the primitive."""

    def step(*args: Any) -> Any:
        out = compiled(*args)
        if any(jnp.issubdtype(x.dtype, jnp.inexact) and bool(jnp.isnan(x).any()) for x in jax.tree.leaves(out)):
            with jax.disable_jit():
                fn(*args)
            raise FloatingPointError("the step returned a NaN, but re-running it op by op did not reproduce it")
        return out

    return step
