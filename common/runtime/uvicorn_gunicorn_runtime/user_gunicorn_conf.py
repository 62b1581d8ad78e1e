"""Gunicorn's --config when the application brings its own configuration file (GUNICORN_CONF,
/app/gunicorn_conf.py or /app/app/gunicorn_conf.py; the launcher sets GUNICORN_CONF to it).

Gunicorn reads one file, and its own default worker class (sync) serves WSGI only. This file
runs the application's file and takes all of its settings, with the worker class from
WORKER_CLASS, else from that file, else the image's default. GUNICORN_CMD_ARGS, which Gunicorn
reads after this file, still wins over all of it.
"""

from __future__ import annotations

import os
import sys

from uvicorn_gunicorn_runtime.environment import SettingError
from uvicorn_gunicorn_runtime.worker_class import layered_user_config

try:
    globals().update(layered_user_config(os.environ))
except SettingError as error:
    print(f"error: {error}", file=sys.stderr, flush=True)
    sys.exit(2)
