"""The image's own HEALTHCHECK: healthy soon after start, unhealthy when the application stops
answering, and the same command, run by `docker exec` as a Kubernetes exec probe would run
it, finds the server wherever it listens."""

from __future__ import annotations

import json
import socket
import subprocess
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from python_on_whales import docker
from testcontainers.core.wait_strategies import HealthcheckWaitStrategy, WaitStrategy

from devtools.polling import poll
from tests.conftest import ChildImages, ImageUnderTest
from tests.image.server import STARTUP_TIMEOUT_SECONDS, Manager, Server, engine_time, run_to_exit, serve

SECOND = 1_000_000_000  # Docker's health durations are in nanoseconds
SHIPPED = {
    "Test": ["CMD", "/healthcheck"],
    "Interval": 10 * SECOND,
    "Timeout": 3 * SECOND,
    "StartPeriod": 60 * SECOND,
    "StartInterval": 1 * SECOND,
    "Retries": 3,
}
# The image's own test, checked more often, so that the tests take seconds: docker run's
# --health-interval and --health-retries. The engine's limit on one check is raised from the
# image's 3 s, so that the check's own 2 s deadline is what ends a check, even when its start
# under emulation takes seconds, and the failure says so in its own words.
QUICK_INTERVAL_SECONDS, QUICK_TIMEOUT_SECONDS = 1, 20
QUICK = {
    "healthcheck": {
        "interval": QUICK_INTERVAL_SECONDS * SECOND,
        "timeout": QUICK_TIMEOUT_SECONDS * SECOND,
        "retries": 2,
    }
}


def quick_checks_take(checks: int) -> float:
    """Seconds `checks` of QUICK's checks take at most: the engine stops each at its timeout."""
    return checks * (QUICK_INTERVAL_SECONDS + QUICK_TIMEOUT_SECONDS)


# /hang blocks the event loop for good: its worker answers nothing more, though the
# listening socket still accepts connections.
HANG_APP = """\
import time

print("hang app: imported", flush=True)


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    if scope["path"] == "/hang":
        print("hang app: blocking the event loop", flush=True)
        time.sleep(3600)
    status = 200 if scope["path"] in ("/", "/health") else 404
    await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"ok"})
"""


def healthy() -> WaitStrategy:
    return HealthcheckWaitStrategy().with_startup_timeout(STARTUP_TIMEOUT_SECONDS)


def _health(server: Server) -> dict[str, Any]:
    wrapped = server.container.get_wrapped_container()
    wrapped.reload()
    state: dict[str, Any] = wrapped.attrs["State"]
    assert "Health" in state, f"no health check in the container's state: {state}"
    health: dict[str, Any] = state["Health"]
    return health


@dataclass(frozen=True)
class HealthSeen:
    state: dict[str, Any]  # the last one read
    checks: list[dict[str, Any]]  # every check seen while polling, the first first


def wait_for_health(server: Server, wanted: str, seconds: float, last_output: str | None = None) -> HealthSeen:
    """Polls the container's health until its status is `wanted` (and the last check's output
    holds `last_output`); fails at the deadline. The engine keeps only the last five checks in
    Health.Log, so the checks are gathered as the polls see them."""
    seen: dict[str, dict[str, Any]] = {}

    def read() -> dict[str, Any]:
        health = _health(server)
        seen.update((entry["Start"], entry) for entry in health["Log"])
        return health

    def done(health: dict[str, Any]) -> bool:
        last = health["Log"][-1]["Output"] if health["Log"] else ""
        return health["Status"] == wanted and (last_output is None or last_output in last)

    health = poll(read, done, seconds)
    assert done(health), f"not {wanted} ({last_output}) within {seconds:.0f} s: {health}\n{server.logs()}"
    return HealthSeen(health, sorted(seen.values(), key=lambda entry: engine_time(entry["Start"])))


def health_check_starts(container_id: str, since: datetime) -> list[datetime]:
    """When the engine started each run of the container's HEALTHCHECK, from its exec events."""
    events = docker.system.events(
        since=since - timedelta(seconds=1),
        until=datetime.now(UTC),
        filters={"container": container_id, "event": "exec_start"},
    )
    starts = [event.time for event in events if event.action and "/healthcheck" in event.action and event.time]
    assert starts, "the engine recorded no run of the health check"
    return sorted(starts)


def exec_check(server: Server, *command: str) -> tuple[int, str]:
    result = server.container.exec(list(command))
    assert result.exit_code is not None
    return result.exit_code, result.output.decode()


def test_image_ships_the_documented_health_check(image: ImageUnderTest) -> None:
    # python_on_whales' model of a health check has no start interval.
    inspected = subprocess.run(
        ["docker", "image", "inspect", "--format", "{{json .Config.Healthcheck}}", image.image_id],
        check=True,
        capture_output=True,
        text=True,
    )
    assert json.loads(inspected.stdout) == SHIPPED


@pytest.mark.every_platform
def test_healthy_soon_after_start_as_shipped(image: ImageUnderTest, platform: str, manager: Manager) -> None:
    """The image's HEALTHCHECK as it is, nothing overridden: checked every second until the
    first pass, then every ten."""
    with serve(image.image_id, platform, env={"PROCESS_MANAGER": manager.name}) as server:
        checks = wait_for_health(server, "healthy", STARTUP_TIMEOUT_SECONDS).checks
        attributes = server.container.get_wrapped_container().attrs
    assert attributes["Config"]["Healthcheck"] == SHIPPED
    started = engine_time(attributes["State"]["StartedAt"])
    first_pass = next(entry for entry in checks if entry["ExitCode"] == 0)
    assert first_pass["Output"].startswith("healthy: 127.0.0.1:80: GET / answered 200 in ")
    # The start interval, 1 s: with the 10 s interval alone the first check would come at 10 s.
    # The engine's events record every check's exec, where Health.Log keeps the last five only
    # (the readiness wait may outlast five checks on a slow host).
    (first_check, *_) = health_check_starts(server.container.get_wrapped_container().id, started)
    assert (first_check - started).total_seconds() < 5, checks
    seconds = (engine_time(first_pass["End"]) - started).total_seconds()
    print(f"healthy {seconds:.1f} s after start ({platform}, {manager.name})")


@pytest.mark.every_platform
def test_unhealthy_when_the_application_stops_answering(
    child_images: ChildImages, platform: str, manager: Manager
) -> None:
    child = child_images.build(platform, {"main.py": HANG_APP})
    env = {"WEB_CONCURRENCY": "1", "HEALTHCHECK_PATH": "/health", "PROCESS_MANAGER": manager.name}
    with serve(child, platform, env=env, ready=healthy(), options=QUICK) as server:
        assert _health(server)["Log"][-1]["Output"].startswith("healthy: 127.0.0.1:80: GET /health answered 200")
        port = int(server.container.get_exposed_port(80))
        with socket.create_connection((server.container.get_container_host_ip(), port), timeout=10) as hang:
            hang.sendall(b"GET /hang HTTP/1.1\r\nHost: test\r\n\r\n")
            server.wait_for_log(r"hang app: blocking the event loop")
            hung = time.monotonic()
            health = wait_for_health(server, "unhealthy", quick_checks_take(3)).state
            seconds = time.monotonic() - hung
    failures = [entry["Output"] for entry in health["Log"] if entry["ExitCode"] != 0]
    assert failures[-1] == "unhealthy: 127.0.0.1:80: no answer to GET /health in time\n", health
    assert health["FailingStreak"] >= 2
    print(f"unhealthy {seconds:.1f} s after the hang (interval 1 s, retries 2, the check's own timeout 2 s)")


def test_a_path_that_fails_is_unhealthy(child_images: ChildImages, platform: str) -> None:
    child = child_images.build(platform, {"main.py": HANG_APP})
    env = {"HEALTHCHECK_PATH": "/missing"}
    # Failures count from the start: a start period of 1 ms (0 would be the image's 60 s).
    options = {"healthcheck": {**QUICK["healthcheck"], "start_period": SECOND // 1000}}
    answered_404 = "unhealthy: 127.0.0.1:80: GET /missing answered 404, expected 2xx or 3xx"
    with serve(child, platform, env=env, options=options) as server:
        # Checks before the server listened failed too, saying "cannot connect": the server
        # answers now (serve waited for GET /), so the next checks see the 404.
        health = wait_for_health(server, "unhealthy", quick_checks_take(4), last_output=answered_404).state
        code, output = exec_check(server, "/healthcheck")
    assert health["FailingStreak"] >= 2
    assert code == 1
    assert output == "unhealthy: 127.0.0.1:80: GET /missing answered 404, expected 2xx or 3xx (HEALTHCHECK_PATH)\n"


# Where the server listens: (id, environment, what the check names)
PLACES = [
    ("unix-socket", {"BIND": "unix:/tmp/app.sock"}, "unix:/tmp/app.sock"),
    ("ipv6-wildcard", {"BIND": "[::]:8080"}, "[::1]:8080"),
    ("ipv6-loopback", {"BIND": "[::1]:8080"}, "[::1]:8080"),
    ("host-name", {"HOST": "localhost", "PORT": "8080"}, ":8080"),
]


@pytest.mark.parametrize(("env", "where"), [place[1:] for place in PLACES], ids=[place[0] for place in PLACES])
def test_exec_probe_finds_the_server(
    child_images: ChildImages, platform: str, manager: Manager, env: dict[str, str], where: str
) -> None:
    child = child_images.build(platform, {"main.py": HANG_APP})
    env = {**env, "HEALTHCHECK_PATH": "/health", "PROCESS_MANAGER": manager.name}
    with serve(child, platform, env=env, ready=healthy(), options=QUICK) as server:
        probe = exec_check(server, "/healthcheck")
        module = exec_check(server, "python", "-m", "uvicorn_gunicorn_runtime.healthcheck")
    for code, output in (probe, module):
        assert code == 0, output
        assert output.startswith("healthy: ") and f"{where}: GET /health answered 200 in " in output


def test_readiness_and_liveness_probes(image: ImageUnderTest, platform: str, manager: Manager) -> None:
    """`--ready` and `--live`, as Kubernetes' exec probes run them; they differ only during a
    drain (tests/image/test_drain.py)."""
    with serve(image.image_id, platform, env={"PROCESS_MANAGER": manager.name}) as server:
        ready = exec_check(server, "/healthcheck", "--ready")
        live = exec_check(server, "/healthcheck", "--timeout", "5", "--live")
        both = exec_check(server, "/healthcheck", "--ready", "--live")
    assert ready[0] == 0 and ready[1].startswith("ready: 127.0.0.1:80: GET / answered 200 in "), ready
    assert live[0] == 0 and live[1].startswith("alive: 127.0.0.1:80: GET / answered 200 in "), live
    usage = "usage: healthcheck [--ready | --live] [--timeout SECONDS]"
    assert both == (1, f"error: unknown arguments ['--ready', '--live']; {usage}\n")


def test_exec_probe_as_any_user_on_a_read_only_root(child_images: ChildImages, platform: str, manager: Manager) -> None:
    child = child_images.build(platform, {"main.py": HANG_APP})
    env = {"PORT": "8080", "HEALTHCHECK_PATH": "/health", "PROCESS_MANAGER": manager.name}
    options = {**QUICK, "user": "10001:0", "read_only": True}
    with serve(child, platform, env=env, port=8080, ready=healthy(), tmpfs="/tmp", options=options) as server:
        code, output = exec_check(server, "/healthcheck")
        logs = server.logs()
    assert code == 0, output
    assert output.startswith("healthy: 127.0.0.1:8080: GET /health answered 200 in ")
    assert "warning:" not in logs


def test_prestart_script_moves_the_server(child_images: ChildImages, platform: str, manager: Manager) -> None:
    """Its exports reach the server, not `docker exec`: the server's record says where it went."""
    child = child_images.build(
        platform, {"main.py": HANG_APP, "prestart.sh": "export PORT=8082 HEALTHCHECK_PATH=/health\n"}
    )
    with serve(child, platform, env={"PROCESS_MANAGER": manager.name}, ready=healthy(), options=QUICK) as server:
        code, output = exec_check(server, "/healthcheck")
        record = server.run("cat", "/dev/shm/uvicorn-gunicorn-health")
    assert code == 0, output
    assert output.startswith("healthy: 127.0.0.1:8082: GET /health answered 200 in ")
    assert record == "path /health\ntcp 0.0.0.0 8082\n"


def test_gunicorn_cmd_args_bind_is_followed(child_images: ChildImages, platform: str) -> None:
    child = child_images.build(platform, {"main.py": HANG_APP})
    env = {"GUNICORN_CMD_ARGS": "--bind 127.0.0.1:8083", "PORT": "8080"}
    with serve(child, platform, env=env, ready=healthy(), options=QUICK) as server:
        code, output = exec_check(server, "/healthcheck")
    assert code == 0, output
    assert output.startswith("healthy: 127.0.0.1:8083: GET / answered 200 in ")


def test_own_gunicorn_config_binds_and_keeps_its_hooks(child_images: ChildImages, platform: str) -> None:
    own_conf = "bind = ['0.0.0.0:8084']\n\ndef when_ready(server):\n    print('own when_ready ran', flush=True)\n"
    child = child_images.build(platform, {"main.py": HANG_APP, "gunicorn_conf.py": own_conf})
    with serve(child, platform, ready=healthy(), options=QUICK) as server:
        code, output = exec_check(server, "/healthcheck")
        logs = server.logs()
    assert code == 0, output
    assert output.startswith("healthy: 127.0.0.1:8084: GET / answered 200 in ")
    assert "own when_ready ran" in logs


def test_bad_healthcheck_path_stops_the_start(image: ImageUnderTest, platform: str, manager: Manager) -> None:
    env = {"HEALTHCHECK_PATH": "health", "PROCESS_MANAGER": manager.name}
    exited = run_to_exit(image.image_id, platform, env, timeout=60)
    assert exited.code == 2
    assert exited.stderr.strip().splitlines() == [
        "error: HEALTHCHECK_PATH='health' is not valid: expected a path starting with /, such as /health,"
        " in ASCII without spaces"
    ]
