"""Runs benchmark workers in fresh subprocesses, alternating the variants each repeat so drift hits both."""

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def alternate(script: str, variants: dict[str, str], extra: list[str], repeats: int) -> dict[str, list[dict]]:
    """Runs ``python SCRIPT --worker ARG EXTRA`` per variant and repeat; returns each variant's JSON results.

    Args:
        script: The benchmark file; its worker prints one JSON object as its last stdout line.
        variants: Variant name -> the value passed to ``--worker``.
        extra: Further arguments for every worker (e.g. ``["--steps", "2000"]``).
        repeats: How many times each variant runs; the order flips on every repeat.
    """
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1"}
    samples: dict[str, list[dict]] = {name: [] for name in variants}
    order = list(variants.items())
    for repeat in range(repeats):
        for name, worker_arg in order if repeat % 2 == 0 else order[::-1]:
            out = subprocess.run(
                [sys.executable, script, "--worker", worker_arg, *extra],
                env=env,
                capture_output=True,
                text=True,
                check=True,
                cwd=REPO,
            ).stdout
            samples[name].append(json.loads(out.strip().splitlines()[-1]))
            sys.stderr.write(f"repeat {repeat} {name}: {samples[name][-1]}\n")
    return samples
