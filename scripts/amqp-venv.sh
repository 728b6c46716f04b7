#!/usr/bin/env bash
# Prints the path of a Python that has pika (PyPI), installing it once into the project's venv (.build-venv,
# shared with scripts/validate-compose.sh; ROCKETWS_VENV overrides). Exit 1 with the reason on stderr if it
# cannot.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv=${ROCKETWS_VENV:-$root/.build-venv}
python=${PYTHON:-python3}
if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c 'import pika' 2>/dev/null; then
    echo "$venv/bin/python"
    exit 0
fi
[ -x "$venv/bin/python" ] || "$python" -m venv "$venv" >&2 || { echo "amqp-venv: python3 -m venv failed (python3-venv missing?)" >&2; exit 1; }
"$venv/bin/pip" --disable-pip-version-check -q --timeout 20 --retries 1 install "pika==1.3.2" >&2 ||
    "$venv/bin/pip" --disable-pip-version-check -q --timeout 20 --retries 1 install pika >&2 ||
    { echo "amqp-venv: pip could not install pika" >&2; exit 1; }
echo "$venv/bin/python"
