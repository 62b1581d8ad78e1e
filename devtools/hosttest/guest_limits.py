"""Runs inside a guest of `nox -s vms` with the guest's own python3: the image's limits cases on
the guest's container engine (Docker, or Podman as an ordinary user), one JSON line per case.

`python3 guest_limits.py CASES.json` with polling.py and server_probes.py beside it (copied from
devtools/, with the bake/errors.py they import): the cases say how to run each container and how
many workers to wait for; the harness on the host judges the results.
Standard library only: the guest has no virtual environment."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
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


class ContainerServer(ServerReader):
    """A container of the image on the guest's engine, read as the tests and the bench read one."""

    def __init__(self, engine: list[str], container: str) -> None:
        self.engine = engine
        self.container = container

    def logs(self) -> str:
        result = subprocess.run([*self.engine, "logs", self.container], capture_output=True, text=True, check=True)
        return result.stdout + result.stderr

    def python(self, source: str) -> str:
        command = [*self.engine, "exec", self.container, "python", "-c", source]
        return subprocess.run(command, capture_output=True, text=True, check=True).stdout


def _settings(server: ContainerServer) -> dict[str, Any] | None:
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


def run_case(engine: list[str], image: str, case: dict[str, Any]) -> dict[str, Any]:
    if case.get("setup"):
        subprocess.run(["bash", "-c", case["setup"]], check=True)
    environment = [f"--env={name}={value}" for name, value in case["environment"].items()]
    started = time.monotonic()
    run = [*engine, "run", "-d", *case["options"], *environment, image]
    container = subprocess.run(run, capture_output=True, text=True, check=True).stdout.strip()
    server = ContainerServer(engine, container)
    result: dict[str, Any] = {"case": case["name"]}
    try:
        settings = poll(
            lambda: _settings(server), lambda found: found is not None, STARTUP_SECONDS, interval=POLL_SECONDS
        )
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
    finally:
        subprocess.run([*engine, "rm", "-f", container], capture_output=True)
    return result


def main(argv: list[str]) -> int:
    plan = json.loads(Path(argv[1]).read_text())
    for case in plan["cases"]:
        try:
            result = run_case(plan["engine"], plan["image"], case)
        except (subprocess.CalledProcessError, OSError) as error:
            detail = getattr(error, "stderr", None) or str(error)
            result = {"case": case["name"], "error": f"{error}: {str(detail).strip()[-800:]}"}
        print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
