"""PRELOAD_APP: Gunicorn's master imports the application once, before forking its workers."""

from __future__ import annotations

import pytest
import requests

from tests.conftest import PROBE_APP, ChildImages
from tests.image.server import Exited, run_to_exit, serve

BROKEN_APP = "import json\nvalue = 1 / 0\n"
WORKERS = 4
# An application with something sizeable made at import: stdlib modules and a large structure,
# about 60 MiB in each worker that imports it on its own.
SIZEABLE_APP = (
    "import asyncio, decimal, email.parser, http.server, json, sqlite3, unittest, xml.etree.ElementTree\n"
    "TABLE = {number: f'value {number}' for number in range(400_000)}\n"
    "async def app(scope, receive, send):\n"
    "    if scope['type'] != 'http':\n"
    "        return\n"
    "    await send({'type': 'http.response.start', 'status': 200, 'headers': []})\n"
    "    await send({'type': 'http.response.body', 'body': str(len(TABLE)).encode()})\n"
)


@pytest.mark.parametrize(("preload", "imports"), [("true", 1), ("false", WORKERS)])
def test_preload_imports_the_application_once(
    child_images: ChildImages, platform: str, preload: str, imports: int
) -> None:
    child = child_images.build(platform, {"main.py": PROBE_APP})
    with serve(child, platform, env={"WEB_CONCURRENCY": str(WORKERS), "PRELOAD_APP": preload}) as server:
        server.wait_for_log(r"Booting worker with pid", times=WORKERS)
        answers = {requests.get(server.url(), timeout=10).status_code for _ in range(20)}
        logs = server.logs()
        settings = server.settings()
    assert answers == {200}
    assert settings["preload_app"] is (preload == "true")
    assert logs.count("probe: imported") == imports, logs
    if preload == "true":
        assert logs.index("probe: imported") < logs.index("Booting worker with pid")


def _assert_one_line_after_no_worker(exited: Exited, expected: str) -> None:
    lines = [line for line in exited.stderr.splitlines() if line.strip()]
    assert exited.code == 2, exited
    assert lines == [lines[-1]] and lines[-1].startswith("error: ") and expected in lines[-1], lines
    assert "Traceback" not in exited.stdout + exited.stderr
    assert "Booting worker" not in exited.stdout + exited.stderr  # the master failed before forking
    assert exited.seconds < 30


@pytest.mark.every_platform
def test_preloaded_application_that_fails_to_import_is_one_line(child_images: ChildImages, platform: str) -> None:
    child = child_images.build(platform, {"main.py": BROKEN_APP})
    exited = run_to_exit(child, platform, {"PRELOAD_APP": "true", "WEB_CONCURRENCY": "3"})
    _assert_one_line_after_no_worker(
        exited, "importing 'main' failed: ZeroDivisionError: division by zero (/app/main.py, line 2)"
    )


def test_preloaded_application_that_is_missing_is_one_line(child_images: ChildImages, platform: str) -> None:
    child = child_images.build(platform, {"main.py": PROBE_APP})
    exited = run_to_exit(child, platform, {"PRELOAD_APP": "true", "APP_MODULE": "nowhere:app"})
    _assert_one_line_after_no_worker(exited, "APP_MODULE='nowhere:app': no module named 'nowhere'")


def _worker_pss_kib(child: str, platform: str, preload: str) -> list[int]:
    with serve(child, platform, env={"WEB_CONCURRENCY": str(WORKERS), "PRELOAD_APP": preload}) as server:
        server.wait_for_log(r"Booting worker with pid", times=WORKERS)
        for _ in range(200):  # every worker serves, as in production, before it is measured
            assert requests.get(server.url(), timeout=10).text == "400000"
        _, workers = server.memory()
        return [worker.pss_kib for worker in workers]


def test_preload_shares_the_applications_memory_between_workers(child_images: ChildImages, platform: str) -> None:
    child = child_images.build(platform, {"main.py": SIZEABLE_APP})
    alone = _worker_pss_kib(child, platform, "false")
    shared = _worker_pss_kib(child, platform, "true")
    assert len(alone) == len(shared) == WORKERS
    per_worker_alone, per_worker_shared = sum(alone) / WORKERS, sum(shared) / WORKERS
    print(f"PSS per worker, {WORKERS} workers: {per_worker_alone / 1024:.1f} MiB without PRELOAD_APP,")
    print(f"  {per_worker_shared / 1024:.1f} MiB with it: {alone} KiB, {shared} KiB")
    assert per_worker_shared < 0.6 * per_worker_alone
