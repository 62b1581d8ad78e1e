#!/bin/sh
# Starts the application under Gunicorn. `exec` makes the server PID 1, so that it
# receives the container's signals.
set -e
. /usr/local/share/uvicorn-gunicorn/prepare.sh

if [ -z "${GUNICORN_CONF:-}" ]; then
    for candidate in /app/gunicorn_conf.py /app/app/gunicorn_conf.py /gunicorn_conf.py; do
        if [ -f "$candidate" ]; then
            GUNICORN_CONF=$candidate
            break
        fi
    done
fi
export GUNICORN_CONF

exec gunicorn --config "$GUNICORN_CONF" "$APP_MODULE"
