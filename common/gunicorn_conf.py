"""Gunicorn settings of the image, every one from an environment variable.

Gunicorn loads this file with `--config`. It prints the effective settings as one JSON
line at start; a bad value stops the server with one line naming the variable.
GUNICORN_CMD_ARGS, read by Gunicorn itself after this file, wins over all of it.
"""

from __future__ import annotations

import json
import os
import sys

from uvicorn_gunicorn_runtime.settings import SettingError, load_from_container

try:
    _settings = load_from_container(os.environ)
except SettingError as error:
    sys.exit(f"error: {error}")

workers = _settings.workers.count
bind = [_settings.bind]
worker_class = _settings.worker_class
loglevel = _settings.log_level
accesslog = _settings.access_log
errorlog = _settings.error_log or "/dev/null"
timeout = _settings.timeout
graceful_timeout = _settings.graceful_timeout
keepalive = _settings.keep_alive
forwarded_allow_ips = _settings.forwarded_allow_ips
# In memory, where any user may write even on a read-only root: the workers' heartbeat
# files (a disk-backed /tmp can stall them) and Gunicorn's control socket (by default
# under $HOME, which a non-root user may not own).
worker_tmp_dir = "/dev/shm"
control_socket = "/dev/shm/gunicorn.ctl"
if _settings.log_format == "json":
    logger_class = "uvicorn_gunicorn_runtime.logs.JsonLogger"

print(json.dumps(_settings.summary()), flush=True)
