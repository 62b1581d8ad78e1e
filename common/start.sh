#!/bin/sh
# Runs the prestart script, then checks the settings and the application and becomes the
# server: Gunicorn (default) or Uvicorn's own manager, as PID 1 so it receives signals.
set -e
# shellcheck source=runtime/prestart.sh
. /usr/local/lib/uvicorn-gunicorn/prestart.sh
exec python -m uvicorn_gunicorn_runtime.launch
