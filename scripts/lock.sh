#!/usr/bin/env bash
# Regenerates requirements.lock, the exact version of every third-party package `make install` installs (the base
# dependencies and the all and dev extras, for Python 3.12 on any platform). Versions already in the lock are kept;
# pass --upgrade (or --upgrade-package NAME) to move them. Needs uv: on PATH, in the base Python, or installed into
# the venv here.
#
#   bash scripts/lock.sh [VENV] [uv pip compile flags]    (make lock; make lock LOCK_ARGS=--upgrade)
set -euo pipefail
venv=${1:-.venv}
shift || true
root=$(cd "$(dirname "$0")/.." && pwd)
uv_version=0.13.8
if uv --version >/dev/null 2>&1; then uv_cmd="uv"
elif "$venv/bin/python" -m uv --version >/dev/null 2>&1; then uv_cmd="$venv/bin/python -m uv"
else
  "$venv/bin/python" -m pip install -q "uv==$uv_version"
  uv_cmd="$venv/bin/python -m uv"
fi
cd "$root"
$uv_cmd pip compile pyproject.toml --extra all --extra dev --python-version 3.12 --universal \
  --custom-compile-command "make lock" -o requirements.lock -q "$@"
echo "wrote requirements.lock ($(grep -c '^[A-Za-z]' requirements.lock) packages); make install applies it"
