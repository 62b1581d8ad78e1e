#!/bin/sh
# Runs the prestart script, then checks the settings and the application and becomes the
# server: Gunicorn (default) or Uvicorn's own manager, as PID 1 so it receives signals. The
# image's Python starts the launcher, whatever PATH holds; an application's virtual
# environment gets the server under its own interpreter (see the runtime's virtual_env).
set -e
# shellcheck source=runtime/prestart.sh
. /usr/local/lib/uvicorn-gunicorn/prestart.sh
exec /usr/local/bin/python -m uvicorn_gunicorn_runtime.launch
