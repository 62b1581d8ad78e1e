# shellcheck shell=sh
# Sourced by /start.sh and /start-reload.sh: runs the optional prestart script in the same
# shell, so that the variables it exports reach the server.
PRE_START_PATH=${PRE_START_PATH:-/app/prestart.sh}
if [ -f "$PRE_START_PATH" ]; then
    echo "prestart: running $PRE_START_PATH"
    # shellcheck source=/dev/null  # the user's own script
    . "$PRE_START_PATH"
else
    echo "prestart: no script at $PRE_START_PATH"
fi
