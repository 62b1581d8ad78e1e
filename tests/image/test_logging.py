"""Access and error logs, the log level, and JSON logs."""

from __future__ import annotations

import json
import re
import time
import uuid
from dataclasses import dataclass

import pytest
import requests

from tests.conftest import PROBE_APP, ChildImages, ImageUnderTest
from tests.image.server import Manager, serve


def _probe_path() -> str:
    return f"/probe-{uuid.uuid4().hex}"


@pytest.mark.every_platform
def test_access_line_for_a_request(image: ImageUnderTest, platform: str, manager: Manager) -> None:
    path = _probe_path()
    with serve(image.image_id, platform, env={"PROCESS_MANAGER": manager.name}) as server:
        assert requests.get(server.url(path=path), timeout=10).status_code == 200
        server.wait_for_log(rf'"GET {path} HTTP/1\.1" 200')


@pytest.mark.every_platform
def test_access_log_empty_disables_access_lines(image: ImageUnderTest, platform: str, manager: Manager) -> None:
    path = _probe_path()
    with serve(image.image_id, platform, env={"ACCESS_LOG": "", "PROCESS_MANAGER": manager.name}) as server:
        assert requests.get(server.url(path=path), timeout=10).status_code == 200
        logs = server.stop_and_collect_logs()
    assert manager.stopped in logs  # the logs are complete
    assert path not in logs


@pytest.mark.every_platform
def test_log_level_warning_hides_info_lines(image: ImageUnderTest, platform: str, manager: Manager) -> None:
    with serve(image.image_id, platform, env={"LOG_LEVEL": "warning", "PROCESS_MANAGER": manager.name}) as server:
        assert server.settings()["log_level"] == "warning"
        logs = server.stop_and_collect_logs()
    assert manager.info_marker not in logs
    assert "Started server process" not in logs


def test_default_log_level_shows_info_lines(image: ImageUnderTest, platform: str, manager: Manager) -> None:
    with serve(image.image_id, platform, env={"PROCESS_MANAGER": manager.name}) as server:
        logs = server.stop_and_collect_logs()
    assert manager.info_marker in logs
    assert manager.stopped in logs


@pytest.mark.every_platform
def test_json_logs(image: ImageUnderTest, platform: str, manager: Manager) -> None:
    path = _probe_path()
    with serve(image.image_id, platform, env={"LOG_FORMAT": "json", "PROCESS_MANAGER": manager.name}) as server:
        assert requests.get(server.url(path=path), timeout=10).status_code == 200
        server.wait_for_log(rf'"path": "{path}"')
        stdout, stderr = server.container.get_logs()
    error_lines = [json.loads(line) for line in stderr.decode().splitlines() if line.strip()]
    assert error_lines, "no error-log lines at all"
    assert all({"time", "level", "logger", "message"} <= entry.keys() for entry in error_lines)
    assert any("Started server process" in entry["message"] for entry in error_lines)
    access = [json.loads(line) for line in stdout.decode().splitlines() if path in line]
    assert len(access) == 1
    assert access[0]["method"] == "GET"
    assert access[0]["status"] == 200
    assert access[0]["logger"] == ACCESS_LOGGER


# The image's access line (README, "Access lines"): Uvicorn's own line with the response's
# size in bytes, the duration, the user agent and, when the request has one, its X-Request-ID.
# Under PROCESS_MANAGER=uvicorn and /start-reload.sh it starts with Uvicorn's level prefix.
ACCESS_LINE = re.compile(
    r'^(?:INFO: +)?(?P<client>\S+) - "(?P<method>[A-Z]+) (?P<target>\S+) HTTP/(?P<version>[0-9.]+)" (?P<status>\d{3})'
    r' (?P<bytes>\d+) (?P<ms>\d+\.\d{3})ms "(?P<agent>[^"]*)"(?: request_id="(?P<request_id>[^"]*)")?$'
)
ACCESS_LOGGER = "uvicorn_gunicorn.access"
AGENT = "probe-agent/2.0 (tests)"


def _access_line(logs: str, path: str) -> re.Match[str]:
    """The one access line of the requests to `path`, parsed."""
    lines = [line for line in logs.splitlines() if f" {path}" in line and " HTTP/" in line]
    assert len(lines) == 1, lines
    parsed = ACCESS_LINE.match(lines[0])
    assert parsed is not None, f"not the image's access line: {lines[0]!r}"
    return parsed


@dataclass(frozen=True)
class Answered:
    """A request as the client saw it: the bytes of the body, and how long the whole exchange took."""

    status: int
    size: int
    seconds: float


def _get(url: str, headers: dict[str, str]) -> Answered:
    started = time.monotonic()
    answer = requests.get(url, headers={"User-Agent": AGENT, **headers}, timeout=10)
    return Answered(answer.status_code, len(answer.content), time.monotonic() - started)


def _assert_describes(line: re.Match[str], answered: Answered, request_id: str | None) -> None:
    assert line["method"] == "GET" and line["version"] == "1.1"
    assert int(line["status"]) == answered.status
    assert int(line["bytes"]) == answered.size
    # The server's part of the exchange cannot have lasted longer than the client's whole of it.
    assert 0 < float(line["ms"]) / 1000 <= answered.seconds, (line["ms"], answered.seconds)
    assert line["agent"] == AGENT
    assert line["request_id"] == request_id


@pytest.mark.every_platform
def test_access_line_carries_size_duration_user_agent_and_request_id(
    image: ImageUnderTest, platform: str, manager: Manager
) -> None:
    path, request_id = _probe_path(), f"req-{uuid.uuid4().hex}"
    with serve(image.image_id, platform, env={"PROCESS_MANAGER": manager.name}) as server:
        with_id = _get(server.url(path=f"{path}?q=1"), {"X-Request-ID": request_id})
        without = _get(server.url(path=f"{path}-no-id"), {})
        logs = server.wait_for_log(rf"{path}(\?q=1|-no-id) HTTP", times=2)  # each worker's batch in its time
    line = _access_line(logs, f"{path}?q=1")
    _assert_describes(line, with_id, request_id)
    assert line["target"] == f"{path}?q=1"
    assert re.fullmatch(r"[0-9a-f.:]+:\d+", line["client"]), line["client"]
    _assert_describes(_access_line(logs, f"{path}-no-id"), without, None)


@pytest.mark.parametrize(
    ("env", "command"),
    [
        pytest.param({"ACCESS_LOG_FLUSH_SECONDS": "0"}, None, id="ACCESS_LOG_FLUSH_SECONDS=0"),
        pytest.param({"WORKER_CLASS": "uvicorn_worker.UvicornH11Worker"}, None, id="UvicornH11Worker"),
        pytest.param({"ACCESS_LOG": "/tmp/access.log"}, None, id="ACCESS_LOG=file"),
        pytest.param({"PROCESS_MANAGER": "uvicorn", "ACCESS_LOG_FLUSH_SECONDS": "0"}, None, id="uvicorn-at-once"),
        pytest.param({}, "/start-reload.sh", id="start-reload"),
    ],
)
def test_access_line_in_each_configuration(
    child_images: ChildImages, platform: str, env: dict[str, str], command: str | None
) -> None:
    """The same line wherever it is written; a body sent in parts counts whole, and a request
    whose application raises is logged with the 500 Uvicorn answers."""
    child = child_images.build(platform, {"main.py": PROBE_APP})
    path = _probe_path().replace("/probe-", "")  # a mark in the query: the probe app answers /bytes
    with serve(child, platform, env=env, command=command) as server:
        sized = _get(server.url(path=f"/bytes?n=3001&mark={path}"), {"X-Request-ID": path})
        failed = _get(server.url(path=f"/raise?mark={path}"), {})
        server.stop_and_collect_logs()
        logs = server.file_text(env["ACCESS_LOG"]) if "ACCESS_LOG" in env else server.logs()
    assert sized.size == 3001 and failed.status == 500
    _assert_describes(_access_line(logs, f"/bytes?n=3001&mark={path}"), sized, path)
    raised = _access_line(logs, f"/raise?mark={path}")
    assert raised["status"] == "500" and raised["agent"] == AGENT


@pytest.mark.every_platform
def test_json_access_line_fields(image: ImageUnderTest, platform: str, manager: Manager) -> None:
    path, request_id = _probe_path(), f"req-{uuid.uuid4().hex}"
    env = {"LOG_FORMAT": "json", "PROCESS_MANAGER": manager.name}
    with serve(image.image_id, platform, env=env) as server:
        answered = _get(server.url(path=f"{path}?q=1&r=2"), {"X-Request-ID": request_id})
        server.wait_for_log(rf'"path": "{path}"')
        stdout, _ = server.container.get_logs()
    (entry,) = [json.loads(line) for line in stdout.decode().splitlines() if path in line]
    assert entry["logger"] == ACCESS_LOGGER and entry["level"] == "info"
    assert re.fullmatch(r"[0-9a-f.:]+:\d+", entry["client"]), entry
    expected = {"method": "GET", "path": path, "query": "q=1&r=2", "http_version": "1.1", "status": 200}
    assert {key: entry[key] for key in expected} == expected
    assert entry["bytes"] == answered.size
    assert 0 < entry["duration_ms"] / 1000 <= answered.seconds, entry
    assert entry["user_agent"] == AGENT and entry["request_id"] == request_id
    message = ACCESS_LINE.match(entry["message"])  # the text line, for whoever reads the message only
    assert message is not None and message["target"] == f"{path}?q=1&r=2", entry["message"]


# Every atom the image renders, each between bars.
ATOMS = [*"hlutrmUqHsBbfaTDMLp", "{x-request-id}i", "{content-type}o", "{REQUEST_METHOD}e"]


@pytest.mark.every_platform
def test_access_log_format_renders_gunicorns_atoms(image: ImageUnderTest, platform: str, manager: Manager) -> None:
    access_format = "|".join(f"%({atom})s" for atom in ATOMS)
    path, request_id = _probe_path(), f"req-{uuid.uuid4().hex}"
    env = {"ACCESS_LOG_FORMAT": access_format, "PROCESS_MANAGER": manager.name}
    with serve(image.image_id, platform, env=env) as server:
        assert server.settings()["access_log_format"] == access_format
        headers = {"X-Request-ID": request_id, "Referer": "http://example.test/", "Authorization": "Basic dXNlcjpwdw=="}
        answered = _get(server.url(path=f"{path}?q=1"), headers)
        logs = server.wait_for_log(rf"\|GET\|{path}\|")
    (line,) = [line for line in logs.splitlines() if f"|{path}|" in line]
    atoms = dict(zip(ATOMS, line.removeprefix("INFO:     ").split("|"), strict=True))
    assert re.fullmatch(r"[0-9a-f.:]+", atoms["h"]), atoms
    assert re.fullmatch(r"\[\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4}\]", atoms["t"]), atoms
    assert re.fullmatch(r"<\d+>", atoms["p"]), atoms
    micro = int(atoms["D"])
    assert 0 < micro <= answered.seconds * 1e6, (micro, answered.seconds)
    assert (atoms["M"], atoms["T"]) == (str(micro // 1000), str(micro // 1_000_000)), atoms
    assert atoms["L"] == f"{micro // 1_000_000}.{micro % 1_000_000:06d}", atoms
    expected = {
        "l": "-",
        "u": "user",
        "r": f"GET {path}?q=1 HTTP/1.1",
        "m": "GET",
        "U": path,
        "q": "q=1",
        "H": "HTTP/1.1",
        "s": "200",
        "B": str(answered.size),
        "b": str(answered.size),
        "f": "http://example.test/",
        "a": AGENT,
        "{x-request-id}i": request_id,
        "{content-type}o": "text/plain; charset=utf-8",
        "{REQUEST_METHOD}e": "GET",
    }
    assert {atom: atoms[atom] for atom in expected} == expected


OWN_FORMAT_CONF = """
bind = ["0.0.0.0:80"]
accesslog = "-"
access_log_format = "own %(m)s %(U)s %(s)s %(B)s %(a)s"
"""


@pytest.mark.parametrize(
    ("files", "env", "expected"),
    [
        pytest.param({"gunicorn_conf.py": OWN_FORMAT_CONF}, {}, "own GET {path} 200 {size} {agent}", id="own-file"),
        pytest.param(
            {"gunicorn_conf.py": OWN_FORMAT_CONF},
            {"ACCESS_LOG_FORMAT": "env %(m)s %(U)s"},
            "env GET {path}",
            id="ACCESS_LOG_FORMAT-over-the-file",
        ),
        pytest.param(
            {},
            {"GUNICORN_CMD_ARGS": "--access-logformat 'args %(U)s %(s)s'", "ACCESS_LOG_FORMAT": "env %(U)s"},
            "args {path} 200",
            id="GUNICORN_CMD_ARGS-over-all",
        ),
    ],
)
def test_gunicorns_access_log_format_is_honoured(
    child_images: ChildImages, platform: str, files: dict[str, str], env: dict[str, str], expected: str
) -> None:
    child = child_images.build(platform, {"main.py": PROBE_APP, **files})
    path = _probe_path()
    with serve(child, platform, env=env) as server:
        answered = _get(server.url(path=path), {})
        logs = server.wait_for_log(rf" {path}\b")
    line = expected.format(path=path, size=answered.size, agent=AGENT)
    assert [found for found in logs.splitlines() if path in found] == [line]


@pytest.mark.every_platform
def test_excluded_paths_write_no_line(image: ImageUnderTest, platform: str, manager: Manager) -> None:
    kept = _probe_path()
    env = {"ACCESS_LOG_EXCLUDE_PATHS": "/healthz, /metrics", "PROCESS_MANAGER": manager.name}
    with serve(image.image_id, platform, env=env) as server:
        assert server.settings()["access_log_exclude_paths"] == ["/healthz", "/metrics"]
        for path in ("/healthz", "/metrics", "/healthz?full=1", "/metrics/more", kept):
            assert _get(server.url(path=path), {}).status == 200
        logs = server.stop_and_collect_logs()
    access_lines = [line for line in logs.splitlines() if " HTTP/1.1" in line]
    assert not [line for line in access_lines if "/healthz" in line or "GET /metrics " in line], access_lines
    assert _access_line(logs, "/metrics/more")["status"] == "200"  # the paths are whole paths, not prefixes
    assert _access_line(logs, kept)["status"] == "200"


@pytest.mark.every_platform
def test_the_health_checks_own_requests_write_no_line(image: ImageUnderTest, platform: str, manager: Manager) -> None:
    """The image's HEALTHCHECK runs every few seconds: its requests (its User-Agent) are not
    logged, while anyone else's request to the same path is."""
    path = _probe_path()
    env = {"HEALTHCHECK_PATH": path, "PROCESS_MANAGER": manager.name}
    with serve(image.image_id, platform, env=env) as server:
        for _ in range(3):
            assert server.run("/healthcheck").startswith("healthy:")
        assert _get(server.url(path=path), {}).status == 200
        logs = server.stop_and_collect_logs()
    assert "uvicorn-gunicorn-healthcheck" not in logs
    assert _access_line(logs, path)["agent"] == AGENT


@pytest.mark.every_platform
@pytest.mark.parametrize(("log_level", "levels"), [("info", ["warning", "info"]), ("warning", ["warning"])])
def test_the_apps_own_log_lines_are_json(
    child_images: ChildImages, platform: str, manager: Manager, log_level: str, levels: list[str]
) -> None:
    """With LOG_FORMAT=json, `logging.getLogger("probe.app")` of the application goes out as the
    server's error lines do: one JSON object per line on standard error, each line once."""
    child = child_images.build(platform, {"main.py": PROBE_APP})
    mark = uuid.uuid4().hex
    env = {"LOG_FORMAT": "json", "LOG_LEVEL": log_level, "PROCESS_MANAGER": manager.name}
    with serve(child, platform, env=env) as server:
        assert _get(server.url(path=f"/log?mark={mark}"), {}).status == 200
        server.wait_for_log(rf"probe: warning {mark}")
        logs = server.stop_and_collect_logs()
        _, stderr = server.container.get_logs()
    entries = [json.loads(line) for line in stderr.decode().splitlines() if line.strip()]  # every line is JSON
    own = [entry for entry in entries if mark in entry["message"] and entry["logger"] == "probe.app"]
    assert [entry["level"] for entry in own] == levels, own
    assert [entry["message"] for entry in own] == [f"probe: {level} {mark}" for level in levels]
    assert logs.count(f"probe: warning {mark}") == 1
