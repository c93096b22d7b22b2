#!/usr/bin/env bash
# Create (or reuse) the virtual environment and install qmaudit with its pinned dependencies.
# QM_VENV chooses the environment folder (default: .venv in the repository).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv=${QM_VENV:-$repo/.venv}
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade "pip>=24"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
  -c "$repo/requirements-ci.txt" -e "$repo[dev]"
