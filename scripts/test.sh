#!/usr/bin/env bash
# Set up a virtual environment and run the test suite (SQLite + embedded queue
# unless DATABASE_URL / REDIS_URL say otherwise). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -r requirements-dev.txt
exec .venv/bin/python -m pytest "$@"
