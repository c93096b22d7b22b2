#!/usr/bin/env bash
# Set up, then run qmaudit's own tests (tests/), two workers.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv=${QM_VENV:-$repo/.venv}
QM_VENV=$venv bash "$repo/scripts/setup.sh"
cd "$repo"
exec "$venv/bin/python" -m pytest tests -n 2 "$@"
