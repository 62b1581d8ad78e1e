# Sourced by /start.sh and /start-reload.sh: finds the application and runs the
# optional prestart script in the same shell, so that what it exports reaches the server.

if [ -f /app/app/main.py ]; then
    default_module=app.main
elif [ -f /app/main.py ]; then
    default_module=main
else
    default_module=
fi
MODULE_NAME=${MODULE_NAME:-$default_module}
VARIABLE_NAME=${VARIABLE_NAME:-app}
if [ -z "${APP_MODULE:-}" ] && [ -z "$MODULE_NAME" ]; then
    echo "error: no application found: neither /app/app/main.py nor /app/main.py exists; set APP_MODULE or MODULE_NAME" >&2
    exit 1
fi
export APP_MODULE="${APP_MODULE:-$MODULE_NAME:$VARIABLE_NAME}"

PRE_START_PATH=${PRE_START_PATH:-/app/prestart.sh}
if [ -f "$PRE_START_PATH" ]; then
    echo "prestart: running $PRE_START_PATH"
    . "$PRE_START_PATH"
else
    echo "prestart: no script at $PRE_START_PATH"
fi
