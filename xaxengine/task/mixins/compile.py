"""Compilation: ahead-of-time jit with donated buffers, timed, with an optional persistent cache."""

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp

from xaxengine.config.sections import CompileConfig


def configure_compilation(cfg: CompileConfig) -> None:
    """Enables the persistent compilation cache when ``compile.cache_dir`` is set."""
    if cfg.cache_dir:
        Path(cfg.cache_dir).mkdir(parents=True, exist_ok=True)
        jax.config.update("jax_compilation_cache_dir", cfg.cache_dir)
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)


def compile_step(
    fn: Callable[..., Any], args: Sequence[Any], donate_argnums: tuple[int, ...] = (), donate: bool = True
) -> tuple[Callable[..., Any], Any, float]:
    """Lowers and compiles ``fn`` for ``args`` ahead of time, so compile time is measured apart from training.

    Under ``jax_debug_nans`` the step runs without donation and its outputs are checked after every call; the
    first call that returns a NaN is re-run op by op, where jax raises ``FloatingPointError`` naming the
    primitive that made it (jit's own check is skipped on its C++ fast path, so it cannot be relied on).

    Args:
        fn: The step function.
        args: Example arguments (their shapes, dtypes and shardings are compiled for).
        donate_argnums: Arguments whose buffers the step may reuse for its outputs.
        donate: ``compile.donate_buffers``; False compiles without donation.

    Returns:
        The callable to step with, the compiled executable (for its cost analysis) and the compile seconds.
    """
    start = time.perf_counter()
    debug_nans = bool(jax.config.jax_debug_nans)
    donated = donate_argnums if donate and not debug_nans else ()
    compiled = jax.jit(fn, donate_argnums=donated).lower(*args).compile()
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
