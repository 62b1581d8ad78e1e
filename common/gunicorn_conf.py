"""Gunicorn settings of the image, every one from an environment variable.

Gunicorn loads this file with `--config`. It prints the effective settings as one JSON
line at start; a bad value stops the server with one line naming the variable, and exit
code 2. GUNICORN_CMD_ARGS, read by Gunicorn itself after this file, wins over all of it.
"""

from __future__ import annotations

import json
import os
import sys

from uvicorn_gunicorn_runtime.access_lines import serve_access_lines
from uvicorn_gunicorn_runtime.environment import SettingError
from uvicorn_gunicorn_runtime.settings import load_for_gunicorn
from uvicorn_gunicorn_runtime.workers import UVICORN_WORKER_CLASSES

try:
    # Run by the launcher's Gunicorn, this file's first run finds the launcher's reading in its
    # namespace (see settings.hand_over); otherwise the container is read here.
    _settings = load_for_gunicorn(os.environ, globals())
    worker_class: object = _settings.worker_class
    if worker_class not in UVICORN_WORKER_CLASSES:  # the application's own: it must import and be a worker
        from uvicorn_gunicorn_runtime.worker_class import resolve_worker_class

        worker_class = resolve_worker_class(worker_class, f"WORKER_CLASS={worker_class!r}")
except SettingError as error:
    print(f"error: {error}", file=sys.stderr, flush=True)
    sys.exit(2)

workers = _settings.workers.count
# With setproctitle, Gunicorn's processes are `gunicorn: master [main:app -c /gunicorn_conf.py]`
# and `gunicorn: worker [...]` in ps and /proc/PID/cmdline, as the original's command line was.
proc_name = f"{_settings.app.spec} -c {__file__}"
bind = [_settings.bind]
loglevel = _settings.log_level
accesslog = _settings.access_log
errorlog = _settings.error_log or "/dev/null"
timeout = _settings.timeout
graceful_timeout = _settings.graceful_timeout
keepalive = _settings.keep_alive
forwarded_allow_ips = _settings.forwarded_allow_ips
max_requests = _settings.max_requests
max_requests_jitter = _settings.max_requests_jitter
preload_app = _settings.preload_app
# In memory, where any user may write even on a read-only root: the workers' heartbeat
# files (a disk-backed /tmp can stall them) and Gunicorn's control socket (by default
# under $HOME, which a non-root user may not own).
worker_tmp_dir = "/dev/shm"
control_socket = "/dev/shm/gunicorn.ctl"
# Both write the access log to standard output in batches, unless ACCESS_LOG_FLUSH_SECONDS=0.
if _settings.log_format == "json":
    logger_class = "uvicorn_gunicorn_runtime.logs.JsonLogger"
else:
    logger_class = "uvicorn_gunicorn_runtime.logs.BufferedAccessLogger"
if _settings.access_log_format is not None:
    access_log_format = _settings.access_log_format
# Each worker's access lines: the image's layer around the application, in place of Uvicorn's line.
post_worker_init = serve_access_lines

print(json.dumps(_settings.summary()), flush=True)
