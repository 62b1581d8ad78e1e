"""The image's Gunicorn logger classes: access lines in batches, and every line as JSON with LOG_FORMAT=json."""

from __future__ import annotations

import logging
import sys

from gunicorn.config import Config
from gunicorn.glogging import Logger

from uvicorn_gunicorn_runtime.access_log import BufferedAccessFileHandler, BufferedAccessHandler, flush_seconds
from uvicorn_gunicorn_runtime.json_format import JsonFormatter

__all__ = ["BufferedAccessLogger", "JsonFormatter", "JsonLogger"]  # Gunicorn and Uvicorn load these by name


class BufferedAccessLogger(Logger):  # type: ignore[misc]  # gunicorn ships no type information
    """Gunicorn's logger, with an access log to standard output or a file written in batches
    (see access_log); the image's access lines take these handlers (see access_lines)."""

    def setup(self, cfg: Config) -> None:
        super().setup(cfg)
        if flush_seconds() == 0:
            return
        handlers = self.access_log.handlers
        for index, handler in enumerate(handlers):
            buffered: BufferedAccessHandler | BufferedAccessFileHandler
            if type(handler) is logging.StreamHandler and handler.stream is sys.stdout:
                buffered = BufferedAccessHandler(sys.stdout)
            elif type(handler) is logging.FileHandler:
                handler.close()
                buffered = BufferedAccessFileHandler(handler.baseFilename)
            else:
                continue
            buffered.setFormatter(handler.formatter)
            buffered._gunicorn = True  # type: ignore[union-attr]  # Gunicorn's mark: a reload (SIGHUP) replaces it
            handlers[index] = buffered


class JsonLogger(BufferedAccessLogger):
    """Gunicorn's logger with JSON on every handler; Uvicorn's workers share these handlers.
    The application's own loggers, which reach the root logger, go out as the error lines do:
    the root logger takes the error log's handlers, at LOG_LEVEL."""

    def setup(self, cfg: Config) -> None:
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                handler.setFormatter(JsonFormatter())
        root = logging.getLogger()
        for handler in getattr(self, "_root_handlers", ()):  # a reload's (SIGHUP) own replace them
            root.removeHandler(handler)
        self._root_handlers = list(self.error_log.handlers)
        for handler in self._root_handlers:
            root.addHandler(handler)
        root.setLevel(self.loglevel)
