"""Runs inside a guest of `nox -s vms` with the guest's own python3: the image's limits cases on
the guest's container engine (Docker, or Podman as an ordinary user), one JSON line per case.

`python3 guest_limits.py CASES.json` with polling.py and server_probes.py beside it (copied from
devtools/, with the bake/errors.py they import): the cases say how to run each container and how
many workers to wait for; the harness on the host judges the results.

Every case's set-up runs first, one at a time (they reload systemd); then the containers start
together and each is watched on its own thread, so that one case's wait is not added to the
next's. Processes are read from the guest's own /proc, where the container's PID 1 is the
engine's State.Pid: no process is started in the container to count its workers.
Standard library only: the guest has no virtual environment."""

from __future__ import annotations

import builtins
import functools
import io
import json
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from devtools.polling import poll
    from devtools.server_probes import ServerReader, ServerReadError
else:  # in the guest, copied beside this file
    sys.path.insert(0, str(Path(__file__).parent))
    from polling import poll
    from server_probes import ServerReader, ServerReadError

STARTUP_SECONDS = 300.0  # emulated, on a busy host: a start takes seconds, not minutes
SECONDS_PER_WORKER = 15.0
POLL_SECONDS = 0.5
STOP_TIMEOUT_SECONDS = 30


class GuestContainer(ServerReader):
    """A container of the image on the guest's engine, read as the tests and the bench read one,
    from the guest's side: its PID 1 is the engine's State.Pid in the guest's /proc."""

    def __init__(self, engine: list[str], container: str) -> None:
        self.engine = engine
        self.container = container
        self.manager_pid = int(self._engine("inspect", "--format", "{{.State.Pid}}", container).strip())

    def _engine(self, *arguments: str) -> str:
        return subprocess.run([*self.engine, *arguments], capture_output=True, text=True, check=True).stdout

    def logs(self) -> str:
        result = subprocess.run([*self.engine, "logs", self.container], capture_output=True, text=True, check=True)
        return result.stdout + result.stderr

    def python(self, source: str) -> str:
        """Runs the probe here, in this process (the guest's /proc holds the container's processes)."""
        output = io.StringIO()
        exec(source, {"__builtins__": builtins, "print": functools.partial(print, file=output)})
        return output.getvalue()


def _settings(server: GuestContainer) -> dict[str, Any] | None:
    try:
        return server.settings()
    except (ServerReadError, subprocess.CalledProcessError):
        return None


def _answers(port: int) -> int | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as response:
            return int(response.status)
    except OSError:
        return None


def _start(engine: list[str], image: str, case: dict[str, Any]) -> GuestContainer:
    environment = [f"--env={name}={value}" for name, value in case["environment"].items()]
    run = [*engine, "run", "-d", *case["options"], *environment, image]
    container = subprocess.run(run, capture_output=True, text=True, check=True).stdout.strip()
    return GuestContainer(engine, container)


def watch(server: GuestContainer, case: dict[str, Any], started: float) -> dict[str, Any]:
    """What a started container shows: its settings line, its workers once they number what the
    case expects (or the deadline passes), its answer and its stop if the case asks."""
    engine, container = server.engine, server.container
    result: dict[str, Any] = {"case": case["name"]}
    settings = poll(lambda: _settings(server), lambda found: found is not None, STARTUP_SECONDS, interval=POLL_SECONDS)
    result["settings"] = settings["workers"] if settings else None
    deadline = STARTUP_SECONDS + SECONDS_PER_WORKER * case["workers"]
    result["processes"] = poll(
        server.worker_count, lambda count: count == case["workers"], deadline, interval=POLL_SECONDS
    )
    if case.get("port"):
        result["status"] = poll(
            lambda: _answers(case["port"]), lambda status: status == 200, STARTUP_SECONDS, interval=POLL_SECONDS
        )
    result["seconds_to_workers"] = round(time.monotonic() - started, 1)
    if case.get("stop"):
        stopping = time.monotonic()
        subprocess.run([*engine, "stop", "-t", str(STOP_TIMEOUT_SECONDS), container], capture_output=True)
        result["stop_seconds"] = round(time.monotonic() - stopping, 1)
        inspect = [*engine, "inspect", "--format", "{{.State.ExitCode}}", container]
        result["exit_code"] = int(subprocess.run(inspect, capture_output=True, text=True, check=True).stdout)
    logs = server.logs()
    result["warnings"] = [line for line in logs.splitlines() if line.startswith("warning:")]
    result["tracebacks"] = logs.count("Traceback")
    result["logs_tail"] = logs.splitlines()[-8:]
    return result


def run_case(engine: list[str], image: str, case: dict[str, Any]) -> dict[str, Any]:
    started = time.monotonic()
    try:
        server = _start(engine, image, case)
    except (subprocess.CalledProcessError, OSError, ValueError) as error:
        return _failed(case, error)
    try:
        return watch(server, case, started)
    except (subprocess.CalledProcessError, OSError) as error:
        return _failed(case, error)
    finally:
        subprocess.run([*engine, "rm", "-f", server.container], capture_output=True)


def _failed(case: dict[str, Any], error: Exception) -> dict[str, Any]:
    detail = getattr(error, "stderr", None) or str(error)
    return {"case": case["name"], "error": f"{error}: {str(detail).strip()[-800:]}"}


def main(argv: list[str]) -> int:
    plan = json.loads(Path(argv[1]).read_text())
    cases = plan["cases"]
    for case in cases:
        if case.get("setup"):
            subprocess.run(["bash", "-c", case["setup"]], check=True)
    with ThreadPoolExecutor(max_workers=max(1, len(cases))) as pool:
        for result in pool.map(functools.partial(run_case, plan["engine"], plan["image"]), cases):
            print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
