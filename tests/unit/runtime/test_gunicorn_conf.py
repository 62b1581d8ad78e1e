"""The image's Gunicorn configuration file (common/gunicorn_conf.py, /gunicorn_conf.py in the
images), run as Gunicorn runs it: as module __config__, with or without the launcher's reading."""

from __future__ import annotations

import json
import runpy

import pytest
from uvicorn_gunicorn_runtime import settings as settings_module
from uvicorn_gunicorn_runtime.environment import SettingError
from uvicorn_gunicorn_runtime.settings import Settings, hand_over

from tests.unit.runtime.readings import IMAGE_CONF_SOURCE, reading


def _run(namespace: dict[str, object]) -> dict[str, object]:
    return runpy.run_path(str(IMAGE_CONF_SOURCE), init_globals=namespace, run_name="__config__")


def test_the_launchers_reading_is_taken_as_it_is(
    container_readings: list[Settings], capsys: pytest.CaptureFixture[str]
) -> None:
    launchers = reading({"WEB_CONCURRENCY": "3", "BIND": "[::]:8080", "ERROR_LOG": "", "LOG_FORMAT": "json"})
    config = _run(hand_over(launchers))
    assert container_readings == []  # the container's limits were read once, by the launcher
    assert (config["workers"], config["bind"], config["errorlog"]) == (3, ["[::]:8080"], "/dev/null")
    assert config["worker_class"] == "uvicorn_worker.UvicornWorker"
    assert config["logger_class"] == "uvicorn_gunicorn_runtime.logs.JsonLogger"
    assert [json.loads(line) for line in capsys.readouterr().out.splitlines()] == [launchers.summary()]


def test_without_the_launcher_the_container_is_read(
    container_readings: list[Settings], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WEB_CONCURRENCY", "5")
    config = _run({})
    assert [reading.workers.count for reading in container_readings] == [5]
    assert config["workers"] == 5
    assert config["logger_class"] == "uvicorn_gunicorn_runtime.logs.BufferedAccessLogger"
    assert [json.loads(line) for line in capsys.readouterr().out.splitlines()] == [container_readings[0].summary()]


def test_a_worker_class_that_does_not_import_stops_gunicorn_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        _run(hand_over(reading({"WORKER_CLASS": "nowhere.Worker"})))
    assert stopped.value.code == 2
    assert capsys.readouterr().err.splitlines() == ["error: WORKER_CLASS='nowhere.Worker': no module named 'nowhere'"]


def test_a_bad_setting_in_the_container_stops_gunicorn_in_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def load_from_container(environ: object) -> Settings:
        raise SettingError("PORT='http' is not valid: expected a whole number from 1 to 65535")

    monkeypatch.setattr(settings_module, "load_from_container", load_from_container)
    with pytest.raises(SystemExit) as stopped:
        _run({})
    assert stopped.value.code == 2
    assert capsys.readouterr().err == "error: PORT='http' is not valid: expected a whole number from 1 to 65535\n"
