#!/bin/sh
# Development only: one Uvicorn process that restarts when code under /app changes.
set -e
# shellcheck source=runtime/prestart.sh
. /usr/local/lib/uvicorn-gunicorn/prestart.sh
exec /usr/local/bin/python -m uvicorn_gunicorn_runtime.launch --reload
