#!/bin/sh
# Development only: one Uvicorn process that restarts when the code under /app changes.
set -e
. /usr/local/share/uvicorn-gunicorn/prepare.sh

if [ "${ACCESS_LOG-unset}" = "" ]; then
    access_log=--no-access-log
else
    access_log=--access-log
fi
exec uvicorn --reload --reload-dir /app --host "${HOST:-0.0.0.0}" --port "${PORT:-80}" \
    --log-level "${LOG_LEVEL:-info}" "$access_log" "$APP_MODULE"
