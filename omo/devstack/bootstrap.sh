#!/usr/bin/env bash
# Creates the virtual environment with Python 3.11 or 3.12 and installs the pinned dependencies.
set -euo pipefail
venv="${1:-.venv}"

pick_python() {
  local candidates=("${PYTHON:-}" python3 python3.12 python3.11)
  local pyenv_root="${PYENV_ROOT:-$HOME/.pyenv}"
  for v in "$pyenv_root"/versions/3.12.*/bin/python3 "$pyenv_root"/versions/3.11.*/bin/python3; do
    [ -x "$v" ] && candidates+=("$v")
  done
  for c in "${candidates[@]}"; do
    [ -n "$c" ] || continue
    command -v "$c" >/dev/null 2>&1 || continue
    if "$c" -c 'import sys; sys.exit(0 if sys.version_info[:2] in ((3, 11), (3, 12)) else 1)' 2>/dev/null; then
      echo "$c"; return 0
    fi
  done
  return 1
}

py=$(pick_python) || { echo "OMO needs Python 3.11 or 3.12 (set PYTHON=/path/to/python3.12)." >&2; exit 1; }
if [ ! -x "$venv/bin/python" ]; then
  echo "==> Creating $venv with $($py --version)"
  if ! "$py" -m venv "$venv" 2>/dev/null; then
    # Debian splits venv out of python3; install it when we may.
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      ver=$("$py" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
      echo "==> Installing python${ver}-venv with apt-get"
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "python${ver}-venv" python3-venv || true
    fi
    rm -rf "$venv"
    "$py" -m venv "$venv"
  fi
fi
echo "==> Installing Python dependencies into $venv"
"$venv/bin/python" -m pip install -q --upgrade pip
"$venv/bin/python" -m pip install -q -e ".[dev]"
