"""What `ps` (and /proc/PID/cmdline) shows of the server: Gunicorn's master and each worker by
role, with the application and the configuration file that runs, as the original's
`gunicorn -c /gunicorn_conf.py main:app` command line showed them; a line at start names an
application's own configuration file.

Under QEMU's user emulation /proc shows the emulator's own command line, which a title set
inside the emulated process does not change: there the launcher's command line is asserted,
the known symptom, and the titles are checked natively."""

from __future__ import annotations

import pytest

from bake.engine.platforms import engine_platform
from tests.conftest import PROBE_APP, ChildImages, ImageUnderTest
from tests.image.server import MANAGERS, Server, serve

CONFIG = "bind = ['0.0.0.0:80']\n"  # an application's own Gunicorn configuration file


def _titles(server: Server, workers: int) -> tuple[str, list[str]]:
    server.wait_for_log(MANAGERS["gunicorn"].worker_started, times=workers)
    assert server.worker_count_once_settled(workers) == workers, server.processes()
    pids = [server.manager_pid, *server.worker_pids()]
    code = "for pid in {}: print(open(f'/proc/{{pid}}/cmdline', 'rb').read().replace(b'\\0', b' ').decode().strip())"
    master, *others = server.python(code.format(pids)).splitlines()
    return master, others


def _assert_titles(platform: str, master: str, workers: list[str], configuration: str) -> None:
    if platform != engine_platform():
        assert " -m uvicorn_gunicorn_runtime.launch" in master, master
        return
    assert master == f"gunicorn: master [main:app -c {configuration}]"
    assert workers and set(workers) == {f"gunicorn: worker [main:app -c {configuration}]"}


@pytest.mark.every_platform
def test_master_and_workers_say_what_they_run(image: ImageUnderTest, platform: str) -> None:
    with serve(image.image_id, platform) as server:
        master, workers = _titles(server, max(server.usable_cpus(), 2))
    _assert_titles(platform, master, workers, "/gunicorn_conf.py")


@pytest.mark.every_platform
def test_an_applications_own_configuration_file_is_named_at_start_and_in_ps(
    child_images: ChildImages, platform: str
) -> None:
    image_id = child_images.build(platform, {"main.py": PROBE_APP, "gunicorn_conf.py": CONFIG})
    with serve(image_id, platform, env={"WEB_CONCURRENCY": "2"}) as server:
        master, workers = _titles(server, 2)
        stdout = server.logs()
    _assert_titles(platform, master, workers, "/app/gunicorn_conf.py")
    assert "notice: Gunicorn runs the application's own configuration file /app/gunicorn_conf.py" in stdout
