#!/usr/bin/env bash
# Create (or reuse) the virtual environment and install qmaudit with its pinned dependencies.
# QM_VENV chooses the environment folder (default: .venv in the repository); QM_EXTRAS adds
# optional extras, e.g. QM_EXTRAS=kerberos,credssp (kerberos builds python-gssapi: libkrb5-dev).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv=${QM_VENV:-$repo/.venv}
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade "pip>=24"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
  -c "$repo/requirements-ci.txt" -e "$repo[dev${QM_EXTRAS:+,$QM_EXTRAS}]"
# Optional: Allure 3 (pinned by tools/allure/package-lock.json) renders the HTML report offline.
# Without Node.js the audit still writes its results; the HTML can be generated later.
if command -v npm >/dev/null 2>&1 && [ ! -x "$repo/tools/allure/node_modules/.bin/allure" ]; then
  npm ci --prefix "$repo/tools/allure" --no-audit --no-fund --silent >/dev/null 2>&1 \
    || echo "warning: npm ci --prefix tools/allure failed; the Allure HTML report will be unavailable" >&2
fi
