"""The image answers, runs the right architecture, and starts the computed number of workers."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import requests

from bake.engine.platforms import UNAME_MACHINE, engine_platform
from tests.conftest import ImageUnderTest
from tests.image.server import Manager, serve


@pytest.mark.every_platform
def test_sample_app_answers_with_its_python_version(image: ImageUnderTest, platform: str) -> None:
    with serve(image.image_id, platform) as server:
        response = requests.get(server.url(), timeout=10)
        reported = server.python("import platform; print(platform.python_version())")
    assert response.status_code == 200
    assert f"Using Python {reported}" in response.text
    assert reported.startswith(f"{image.spec.python}.")


@pytest.mark.every_platform
def test_runs_the_platforms_architecture(image: ImageUnderTest, platform: str) -> None:
    with serve(image.image_id, platform) as server:
        assert server.run("uname", "-m").strip() == UNAME_MACHINE[platform]


@pytest.mark.every_platform
def test_server_is_pid_1(image: ImageUnderTest, platform: str, manager: Manager) -> None:
    """PID 1 is the server's manager, whose children are the workers: Uvicorn's, exec'd by the
    launcher, or Gunicorn's master, which is the launcher itself."""
    with serve(image.image_id, platform, env={"PROCESS_MANAGER": manager.name}) as server:
        command = server.run("cat", "/proc/1/cmdline").split("\0")
        children_of_1 = int(server.python(CHILDREN_OF_PID_1))
    # Gunicorn's master names itself (setproctitle), except under QEMU, whose own command line
    # /proc shows: the emulator first, then the launcher's.
    if manager.name == "gunicorn" and platform == engine_platform():
        assert command[0] == "gunicorn: master [main:app -c /gunicorn_conf.py]", command
    elif manager.name == "gunicorn":
        assert command[-3:-1] == ["-m", "uvicorn_gunicorn_runtime.launch"], command  # NUL-terminated
    else:
        assert "uvicorn_gunicorn_runtime.uvicorn_cli" in command, command
    assert children_of_1 >= 1  # at least the worker that answered; `docker exec` runs outside PID 1


CHILDREN_OF_PID_1 = (
    "import os\n"
    "status = [open(f'/proc/{pid}/status').read() for pid in os.listdir('/proc') if pid.isdigit()]\n"
    "print(sum('\\nPPid:\\t1\\n' in text for text in status))\n"
)


def _automatic(cpu_count: int, per_core: float = 1) -> int:
    return max(int(per_core * cpu_count), 2)


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        pytest.param({}, lambda cpus: _automatic(cpus), id="default", marks=pytest.mark.every_platform),
        pytest.param(
            {"WORKERS_PER_CORE": "3"},
            lambda cpus: _automatic(cpus, 3),
            id="WORKERS_PER_CORE=3",
            marks=pytest.mark.every_platform,
        ),
        pytest.param({"WORKERS_PER_CORE": "0.5"}, lambda cpus: _automatic(cpus, 0.5), id="WORKERS_PER_CORE=0.5"),
        pytest.param(
            {"WEB_CONCURRENCY": "1"}, lambda cpus: 1, id="WEB_CONCURRENCY=1", marks=pytest.mark.every_platform
        ),
        pytest.param({"MAX_WORKERS": "1"}, lambda cpus: 1, id="MAX_WORKERS=1", marks=pytest.mark.every_platform),
        pytest.param(
            {"WEB_CONCURRENCY": "3", "WORKERS_PER_CORE": "5", "MAX_WORKERS": "1"},
            lambda cpus: 3,
            id="WEB_CONCURRENCY-wins",
        ),
    ],
)
def test_worker_count(
    image: ImageUnderTest,
    platform: str,
    manager: Manager,
    env: dict[str, str],
    expected: Callable[[int], int],
) -> None:
    with serve(image.image_id, platform, env={**env, "PROCESS_MANAGER": manager.name}) as server:
        want = expected(server.usable_cpus())
        server.wait_for_log(manager.worker_started, times=want)
        assert server.settings()["workers"]["count"] == want
        processes = manager.child_processes(want)
        assert server.worker_count_once_settled(processes) == processes, server.processes()
