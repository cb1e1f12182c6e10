#!/usr/bin/env bash
# Set up and start Winback on the embedded default (SQLite file, in-process job
# queue) with the demo data set. Idempotent: run it again to restart.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
PORT=${PORT:-5000}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -r requirements.txt
.venv/bin/flask --app wsgi db upgrade
.venv/bin/flask --app wsgi demo --if-empty
echo
echo "Winback is running at http://127.0.0.1:${PORT}/"
.venv/bin/python -c "from campaign.demo import login_help; print(login_help())"
echo "(Ctrl+C stops it; data stays in instance/winback.sqlite)"
exec .venv/bin/flask --app wsgi serve --port "$PORT"
