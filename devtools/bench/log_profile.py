"""Where an access line's time goes: each step of writing one line, timed alone inside the
image on the server's core, in microseconds per line. The engine's share (reading a
container's output, json-file) is the difference between two points of the access-log table."""

from __future__ import annotations

import json
from dataclasses import dataclass

from devtools.bench.server import ServerSpec, running
from devtools.bench.throughput import SERVER_CPU

LINES = 100_000
# Runs in the container: prints {step: microseconds per line}.
PROFILE_SOURCE = """
import json, logging, os, time
from uvicorn_gunicorn_runtime.access_format import Exchange, default_line, json_fields
from uvicorn_gunicorn_runtime.access_lines import AccessLines, AccessLog
from uvicorn_gunicorn_runtime.access_log import BufferedAccessHandler
from uvicorn_gunicorn_runtime.json_format import JsonFormatter
LINES = {lines}
SCOPE = {{"type": "http", "client": ("127.0.0.1", 50000), "method": "GET", "path": "/items/1",
         "raw_path": b"/items/1", "query_string": b"q=x", "root_path": "", "http_version": "1.1",
         "headers": [(b"host", b"localhost:8080"), (b"user-agent", b"wrk"), (b"accept", b"*/*")]}}
HEADERS = dict(SCOPE["headers"])
EXCHANGE = Exchange(SCOPE, HEADERS, 200, 27, 0.0004)
LINE = default_line(EXCHANGE).encode() + b"\\n"
START = {{"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]}}
BODY = {{"type": "http.response.body", "body": b"Hello world! From Uvicorn with Gunicorn."}}
null = os.open(os.devnull, os.O_WRONLY)

def per_line(step):
    started = time.perf_counter()
    for _ in range(LINES):
        step()
    return (time.perf_counter() - started) / LINES * 1e6

def lines(formatter, handler, standard_way=False, level=logging.INFO):
    log = logging.Logger("uvicorn_gunicorn.access", level)
    handler.setFormatter(formatter)
    if standard_way:
        handler.addFilter(lambda record: True)  # any filter takes the standard way
    log.addHandler(handler)
    return AccessLines(log, default_line)

def buffered():
    return BufferedAccessHandler(open(os.devnull, "w"), interval=60)

async def app(scope, receive, send):
    await send(START)
    await send(BODY)

async def receive():
    return {{"type": "http.request", "body": b""}}

async def server_send(message):
    pass

def request(asgi):
    # One request, driven without an event loop: nothing in it waits, so it runs to its end.
    def step():
        try:
            asgi(SCOPE, receive, server_send).send(None)
        except StopIteration:
            pass
    return step

plain = logging.Formatter("%(message)s")
silent = lines(plain, buffered(), level=logging.WARNING)
line_by_line = lines(plain, logging.StreamHandler(open(os.devnull, "w")))
standard = lines(plain, buffered(), standard_way=True)
short = lines(plain, buffered())
json_standard = lines(JsonFormatter(), buffered(), standard_way=True)
json_short = lines(JsonFormatter(), buffered())
print(json.dumps({{
    "the sample app called directly (no access layer)": per_line(request(app)),
    "the access layer around it, no line written": per_line(request(AccessLog(app, silent))),
    "make the image's text line": per_line(lambda: default_line(EXCHANGE)),
    "make a JSON line's fields": per_line(lambda: json_fields(EXCHANGE)),
    "one write system call (to /dev/null)": per_line(lambda: os.write(null, LINE)),
    "logging, line by line (record, lock, format, write, flush)": per_line(lambda: line_by_line.write(EXCHANGE)),
    "logging into the batch buffer (record, lock, format)": per_line(lambda: standard.write(EXCHANGE)),
    "the image's batched text path (no LogRecord)": per_line(lambda: short.write(EXCHANGE)),
    "LOG_FORMAT=json, logging into the batch buffer": per_line(lambda: json_standard.write(EXCHANGE)),
    "LOG_FORMAT=json, the image's batched path (no LogRecord)": per_line(lambda: json_short.write(EXCHANGE)),
    "a request through the access layer, its text line batched (the default)": per_line(
        request(AccessLog(app, short))
    ),
}}))
"""


@dataclass(frozen=True)
class LogStep:
    step: str
    microseconds_per_line: float


def profile_access_line(image: str) -> list[LogStep]:
    """Each step timed over LINES lines in one process, on the server's core."""
    with running(ServerSpec(image, cpuset=SERVER_CPU)) as server:
        timings: dict[str, float] = json.loads(server.python(PROFILE_SOURCE.format(lines=LINES)))
    return [LogStep(step, microseconds) for step, microseconds in timings.items()]
