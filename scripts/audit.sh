#!/usr/bin/env bash
# Set up, then run the main job: the audit of the embedded lab cluster, with its report.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv=${QM_VENV:-$repo/.venv}
QM_VENV=$venv bash "$repo/scripts/setup.sh"
cd "$repo"
exec "$venv/bin/qmaudit" run "$@"
