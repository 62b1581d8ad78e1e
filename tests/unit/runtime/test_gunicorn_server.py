"""Gunicorn's application object in the launcher's process: it holds the launcher's reading and
gives it to the image's configuration file on the first load only. Needs Gunicorn and Uvicorn,
which the unit tests' own environment may not have: skipped there."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("gunicorn")
pytest.importorskip("uvicorn")

from uvicorn_gunicorn_runtime import gunicorn_server
from uvicorn_gunicorn_runtime.discovery import AppTarget
from uvicorn_gunicorn_runtime.settings import Settings

from tests.unit.runtime.readings import IMAGE_CONF_SOURCE, reading

APP = AppTarget("probe_app", "app", ("APP_MODULE",))


@pytest.fixture
def gunicorn_argv(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Gunicorn's command line as the launcher gives it, with this checkout's configuration file
    standing for /gunicorn_conf.py; assign to it to change the command."""
    argv = ["gunicorn", "--config", str(IMAGE_CONF_SOURCE), APP.spec]
    monkeypatch.setattr(gunicorn_server, "IMAGE_GUNICORN_CONF", str(IMAGE_CONF_SOURCE))
    monkeypatch.setattr(sys, "argv", argv)
    monkeypatch.setattr(sys, "path", list(sys.path))  # Gunicorn puts its chdir first
    monkeypatch.delenv("GUNICORN_CMD_ARGS", raising=False)
    yield argv
    sys.modules.pop(gunicorn_server.CONFIG_MODULE, None)


def _application(handed_over: Settings | None) -> gunicorn_server.ImageApplication:
    return gunicorn_server.ImageApplication(APP, gunicorn_server.FailureLines(), handed_over=handed_over)


def test_the_first_load_takes_the_launchers_reading_and_a_reload_reads_afresh(
    gunicorn_argv: list[str], container_readings: list[Settings]
) -> None:
    application = _application(reading({"WEB_CONCURRENCY": "3", "TIMEOUT": "7"}))
    assert (application.cfg.workers, application.cfg.timeout) == (3, 7)
    assert container_readings == []
    assert application.handed_over is None
    application.reload()  # SIGHUP: the container's limits may have changed since the start
    assert len(container_readings) == 1
    assert (application.cfg.workers, application.cfg.timeout) == (2, 120)


def test_the_configuration_file_runs_as_gunicorn_runs_it(
    gunicorn_argv: list[str], container_readings: list[Settings]
) -> None:
    _application(reading({}))
    module = sys.modules[gunicorn_server.CONFIG_MODULE]
    assert module.__file__ == str(IMAGE_CONF_SOURCE)
    assert module.workers == 2


def test_without_a_reading_the_configuration_file_reads_the_container(
    gunicorn_argv: list[str], container_readings: list[Settings]
) -> None:
    application = _application(None)
    assert len(container_readings) == 1
    assert application.cfg.workers == 2


def test_another_configuration_file_drops_the_reading(
    gunicorn_argv: list[str], container_readings: list[Settings], tmp_path: Path
) -> None:
    other = tmp_path / "other_conf.py"
    other.write_text("workers = 5\n")
    gunicorn_argv[2] = str(other)  # GUNICORN_CMD_ARGS=--config, or a file of the application's
    application = _application(reading({"WEB_CONCURRENCY": "3"}))
    assert application.cfg.workers == 5
    assert application.handed_over is None
    assert container_readings == []


def test_a_broken_configuration_file_fails_as_under_gunicorn(
    gunicorn_argv: list[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "gunicorn_conf.py"
    broken.write_text("workers = 1 / 0\n")
    monkeypatch.setattr(gunicorn_server, "IMAGE_GUNICORN_CONF", str(broken))
    gunicorn_argv[2] = str(broken)
    with pytest.raises(SystemExit) as stopped:
        _application(reading({}))
    assert stopped.value.code == 1
    assert capsys.readouterr().err.startswith(f"Failed to read config file: {broken}\nTraceback")


def test_the_image_serves_access_lines_in_each_worker(
    gunicorn_argv: list[str], container_readings: list[Settings]
) -> None:
    from uvicorn_gunicorn_runtime.access_lines import serve_access_lines

    application = _application(reading({"ACCESS_LOG_FORMAT": "%(m)s %(U)s"}))
    assert application.cfg.post_worker_init is serve_access_lines
    assert application.cfg.access_log_format == "%(m)s %(U)s"


@pytest.mark.parametrize(
    ("format_arguments", "error"),
    [
        ("'%(h)s %(s)d%'", "error: access_log_format='%(h)s %(s)d%' is not valid: expected %(atom)s placeholders"),
        ("'%(a)d'", "error: access_log_format='%(a)d' is not valid: expected a format each atom's value fits"),
    ],
)
def test_an_access_log_format_that_cannot_render_stops_the_start_in_one_line(
    gunicorn_argv: list[str],
    container_readings: list[Settings],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    format_arguments: str,
    error: str,
) -> None:
    monkeypatch.setenv("GUNICORN_CMD_ARGS", f"--access-logformat {format_arguments}")
    with pytest.raises(SystemExit) as stopped:
        _application(reading({}))
    assert stopped.value.code == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith(error)


def test_an_unknown_atom_in_gunicorns_own_format_is_left_to_show_a_dash(
    gunicorn_argv: list[str], container_readings: list[Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GUNICORN_CMD_ARGS", "--access-logformat '%(h)s %(nope)s'")
    assert _application(reading({})).cfg.access_log_format == "%(h)s %(nope)s"
