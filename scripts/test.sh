#!/usr/bin/env bash
# The whole test suite: set-up if needed, lint, then every test. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
scripts/install_launch_wheels.sh
VENV=${VENV:-.venv}
echo "== ruff"
"$VENV/bin/ruff" check .
echo "== pytest"
# pytest exits 5 when it collected nothing: that is a failure here, and set -e reports it.
exec "$VENV/bin/python" -m pytest -ra "$@"
