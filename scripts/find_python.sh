#!/usr/bin/env bash
# Prints the path of a Python >= 3.12 interpreter, or explains on stderr and exits 1.
# Order: $PYTHON, python3.12/python3.13 on PATH, pyenv's installed versions, plain python3.
set -u
ok() { "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' >/dev/null 2>&1; }
candidates=()
[ -n "${PYTHON:-}" ] && candidates+=("$PYTHON")
candidates+=(python3.12 python3.13 python3.14)
if command -v pyenv >/dev/null 2>&1; then
  root=$(pyenv root)
  for v in "$root"/versions/3.1[2-9]*/bin/python3; do [ -x "$v" ] && candidates+=("$v"); done
fi
candidates+=(python3 python)
for c in "${candidates[@]}"; do
  path=$(command -v "$c" 2>/dev/null) || continue
  if ok "$path"; then echo "$path"; exit 0; fi
done
echo "error: no Python >= 3.12 found (tried \$PYTHON, python3.12, python3.13, pyenv versions, python3)." >&2
echo "       Install Python 3.12 (e.g. 'pyenv install 3.12') or set PYTHON=/path/to/python3.12." >&2
exit 1
