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
from uvicorn_gunicorn_runtime.access_log import AccessLogger, BufferedAccessHandler
from uvicorn_gunicorn_runtime.json_format import JsonFormatter
from uvicorn.protocols.utils import get_client_addr, get_path_with_query_string
LINES = {lines}
FORMAT = '%s - "%s %s HTTP/%s" %d'
ARGS = ("127.0.0.1:50000", "GET", "/", "1.1", 200)
LINE = (FORMAT % ARGS).encode() + b"\\n"
SCOPE = {{"type": "http", "client": ("127.0.0.1", 50000), "method": "GET", "path": "/items/1",
         "raw_path": b"/items/1", "query_string": b"q=x", "root_path": ""}}
null = os.open(os.devnull, os.O_WRONLY)

def per_line(step):
    started = time.perf_counter()
    for _ in range(LINES):
        step()
    return (time.perf_counter() - started) / LINES * 1e6

def logger(name, handler, formatter, cls=logging.Logger):
    log = cls(name)
    handler.setFormatter(formatter)
    log.addHandler(handler)
    log.propagate = False
    return log

plain = logging.Formatter("%(message)s")
standard = logger("standard", logging.StreamHandler(open(os.devnull, "w")), plain)
record_only = logging.getLogger("record")
buffered = logger("buffered", BufferedAccessHandler(open(os.devnull, "w"), interval=60), plain)
fast = logger("fast", BufferedAccessHandler(open(os.devnull, "w"), interval=60), plain, AccessLogger)
json_buffered = logger("uvicorn.access", BufferedAccessHandler(open(os.devnull, "w"), interval=60), JsonFormatter())
json_fast = logger(
    "uvicorn.access", BufferedAccessHandler(open(os.devnull, "w"), interval=60), JsonFormatter(), AccessLogger
)
print(json.dumps({{
    "Uvicorn's arguments of the line (client address, quoted path)": per_line(
        lambda: (get_client_addr(SCOPE), get_path_with_query_string(SCOPE))
    ),
    "format the line (% arguments)": per_line(lambda: FORMAT % ARGS),
    "build a LogRecord and format it": per_line(
        lambda: plain.format(record_only.makeRecord("r", 20, "f", 1, FORMAT, ARGS, None))
    ),
    "one write system call (to /dev/null)": per_line(lambda: os.write(null, LINE)),
    "logging, line by line (record, lock, format, write, flush)": per_line(lambda: standard.info(FORMAT, *ARGS)),
    "logging into the batch buffer (record, lock, format)": per_line(lambda: buffered.info(FORMAT, *ARGS)),
    "the image's batched text path (no LogRecord)": per_line(lambda: fast.info(FORMAT, *ARGS)),
    "LOG_FORMAT=json, logging into the batch buffer": per_line(lambda: json_buffered.info(FORMAT, *ARGS)),
    "LOG_FORMAT=json, the image's batched path (no LogRecord)": per_line(lambda: json_fast.info(FORMAT, *ARGS)),
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
