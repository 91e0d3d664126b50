#!/usr/bin/env bash
# Creates the virtual environment with Python >= 3.12 and installs the project (editable) with its extras, every
# third-party version taken from requirements.lock (`make lock` regenerates it). Uses uv when present (fast), plain
# venv + pip otherwise; both read the same lock as a constraints file. Compiles bytecode: PYTHONDONTWRITEBYTECODE may
# be set, and without .pyc files importing jax costs seconds every time.
#
#   bash scripts/install.sh [VENV]      XAX_EXTRAS=all,dev (default)   XAX_INSTALLER=pip forces the pip path
set -euo pipefail
venv=${1:-.venv}
root=$(cd "$(dirname "$0")/.." && pwd)
lock="$root/requirements.lock"
extras=${XAX_EXTRAS:-all,dev}
py=$(bash "$root/scripts/find_python.sh")
echo "installing .[$extras] into $venv with $py (versions from requirements.lock)"
uv_cmd=""
if [ "${XAX_INSTALLER:-}" = "pip" ]; then :  # force the plain venv + pip path (what a machine without uv gets)
elif uv --version >/dev/null 2>&1; then uv_cmd="uv"  # a pyenv shim may exist yet fail: run it
elif "$py" -m uv --version >/dev/null 2>&1; then uv_cmd="$py -m uv"; fi
if [ -n "$uv_cmd" ]; then
  [ -x "$venv/bin/python" ] || $uv_cmd venv -q -p "$py" "$venv"
  $uv_cmd pip install -q --compile-bytecode -p "$venv/bin/python" -c "$lock" -e "$root[$extras]"
else
  [ -x "$venv/bin/python" ] || "$py" -m venv "$venv"
  "$venv/bin/python" -m pip install -q --upgrade pip
  "$venv/bin/python" -m pip install -q -c "$lock" -e "$root[$extras]"
  "$venv/bin/python" -m compileall -q -j 0 "$venv/lib" >/dev/null || true
fi
echo "installed: $("$venv/bin/python" --version)"
