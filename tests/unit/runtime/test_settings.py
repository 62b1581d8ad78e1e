from __future__ import annotations

import pytest
from uvicorn_gunicorn_runtime.environment import SettingError
from uvicorn_gunicorn_runtime.limits import CpuLimit
from uvicorn_gunicorn_runtime.settings import HANDED_OVER, Settings, hand_over, load_for_gunicorn, load_settings

from tests.unit.runtime.readings import reading as _load
from tests.unit.runtime.readings import setting_error


def test_defaults() -> None:
    settings = _load({})
    assert settings.process_manager == "gunicorn"
    assert settings.app.spec == "main:app"
    assert settings.gunicorn_conf == "/gunicorn_conf.py"
    assert settings.workers.count == 2
    assert settings.bind == "0.0.0.0:80"
    assert (settings.log_level, settings.log_format) == ("info", "text")
    assert (settings.access_log, settings.error_log) == ("-", "-")
    assert settings.access_log_flush_seconds == 0.5
    assert (settings.access_log_format, settings.access_log_exclude_paths) == (None, ())
    assert settings.worker_class == "uvicorn_worker.UvicornWorker"
    assert (settings.timeout, settings.graceful_timeout, settings.keep_alive) == (120, 120, 5)
    assert settings.drain_seconds == 0
    assert settings.forwarded_allow_ips == "127.0.0.1,::1"
    assert settings.healthcheck_path is None
    assert (settings.max_requests, settings.max_requests_jitter, settings.preload_app) == (0, 0, False)
    assert settings.max_worker_memory_mb == 0
    assert settings.prometheus_multiproc_dir is None


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"LOG_LEVEL": "loud"}, "LOG_LEVEL='loud' is not valid: expected one of critical, error, warning, info, debug"),
        ({"LOG_FORMAT": "xml"}, "LOG_FORMAT='xml' is not valid: expected one of text, json"),
        ({"PROCESS_MANAGER": "x"}, "PROCESS_MANAGER='x' is not valid: expected one of gunicorn, uvicorn"),
        ({"TIMEOUT": "-5"}, "TIMEOUT='-5' is not valid"),
        ({"GRACEFUL_TIMEOUT": "soon"}, "GRACEFUL_TIMEOUT='soon' is not valid"),
        ({"KEEP_ALIVE": "1.5"}, "KEEP_ALIVE='1.5' is not valid"),
        ({"TIMEOUT": "9" * 5000}, "TIMEOUT='999"),  # longer than int() takes: still one line, no traceback
        ({"MAX_REQUESTS": "-1"}, "MAX_REQUESTS='-1' is not valid: expected a whole number from 0 up"),
        ({"MAX_REQUESTS": "1k"}, "MAX_REQUESTS='1k' is not valid"),
        ({"MAX_REQUESTS_JITTER": "5.5"}, "MAX_REQUESTS_JITTER='5.5' is not valid: expected a whole number from 0 up"),
        ({"MAX_WORKER_MEMORY_MB": "-1"}, "MAX_WORKER_MEMORY_MB='-1' is not valid: expected a whole number from 0 up"),
        ({"MAX_WORKER_MEMORY_MB": "512MB"}, "MAX_WORKER_MEMORY_MB='512MB' is not valid"),
        ({"MAX_WORKER_MEMORY_MB": "0.5"}, "MAX_WORKER_MEMORY_MB='0.5' is not valid"),
        ({"PRELOAD_APP": "yes"}, "PRELOAD_APP='yes' is not valid: expected one of true, false"),
        ({"DRAIN_SECONDS": "-5"}, "DRAIN_SECONDS='-5' is not valid: expected a whole number from 0 up"),
        ({"DRAIN_SECONDS": "2.5"}, "DRAIN_SECONDS='2.5' is not valid: expected a whole number from 0 up"),
        ({"DRAIN_SECONDS": "10s"}, "DRAIN_SECONDS='10s' is not valid: expected a whole number from 0 up"),
        (
            {"PROCESS_MANAGER": "uvicorn", "DRAIN_SECONDS": "15"},
            "DRAIN_SECONDS='15' is not valid: expected 0 with PROCESS_MANAGER=uvicorn, "
            "whose supervisor stops serving at the first SIGTERM",
        ),
        ({"PRELOAD_APP": "1"}, "PRELOAD_APP='1' is not valid"),
        (
            {"PROMETHEUS_MULTIPROC_DIR": "metrics"},
            "PROMETHEUS_MULTIPROC_DIR='metrics' is not valid: expected the absolute path of a directory other than /",
        ),
        ({"PROMETHEUS_MULTIPROC_DIR": "/"}, "PROMETHEUS_MULTIPROC_DIR='/' is not valid"),
        ({"PROMETHEUS_MULTIPROC_DIR": "//"}, "PROMETHEUS_MULTIPROC_DIR='//' is not valid"),
        ({"PROMETHEUS_MULTIPROC_DIR": "/tmp/.."}, "PROMETHEUS_MULTIPROC_DIR='/tmp/..' is not valid"),
        ({"PROCESS_MANAGER": "uvicorn", "ACCESS_LOG": "/var/log/access.log"}, "ACCESS_LOG='/var/log/access.log'"),
        ({"PROCESS_MANAGER": "uvicorn", "BIND": "fd://3"}, "BIND='fd://3' is not valid"),
        (
            {"PROCESS_MANAGER": "uvicorn", "TIMEOUT": "0"},
            "TIMEOUT='0' is not valid: expected a whole number from 1 up with PROCESS_MANAGER=uvicorn, "
            "whose worker health check cannot be turned off",
        ),
        ({"PROCESS_MANAGER": "uvicorn", "TIMEOUT": "00"}, "TIMEOUT='00' is not valid"),
        (
            {"PROCESS_MANAGER": "uvicorn", "PRELOAD_APP": "TRUE"},
            "PRELOAD_APP='TRUE' is not valid: expected false with PROCESS_MANAGER=uvicorn, which has no preload",
        ),
        (
            {"PROCESS_MANAGER": "uvicorn", "MAX_REQUESTS": "100"},
            "MAX_REQUESTS='100' is not valid: expected 0 with PROCESS_MANAGER=uvicorn, "
            "whose supervisor can take up to TIMEOUT seconds to replace a recycled worker",
        ),
        (
            {"PROCESS_MANAGER": "uvicorn", "MAX_WORKER_MEMORY_MB": "512"},
            "MAX_WORKER_MEMORY_MB='512' is not valid: expected 0 with PROCESS_MANAGER=uvicorn, "
            "whose supervisor can take up to TIMEOUT seconds to replace a recycled worker",
        ),
        (
            {"PROCESS_MANAGER": "uvicorn", "WORKER_CLASS": "app.workers.MyWorker"},
            "WORKER_CLASS='app.workers.MyWorker' is not valid: expected uvicorn_worker.UvicornWorker or "
            "uvicorn_worker.UvicornH11Worker with PROCESS_MANAGER=uvicorn, which runs no Gunicorn worker",
        ),
    ],
)
def test_bad_values_are_named_in_one_line(env: dict[str, str], message: str) -> None:
    assert setting_error(lambda: _load(env)).startswith(message)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"BIND": "0.0.0.0"}, "BIND='0.0.0.0' is not valid: expected host:port or [ipv6]:port"),  # binding
        ({"APP_MODULE": "main"}, "APP_MODULE='main' is not valid: expected module:variable"),  # discovery
        ({"GUNICORN_CONF": "/nope.py"}, "GUNICORN_CONF='/nope.py' is not valid: expected the path"),  # discovery
        ({"WEB_CONCURRENCY": "0"}, "WEB_CONCURRENCY='0' is not valid: expected a whole number from 1 up"),  # workers
        ({"WORKER_CLASS": "sync"}, "WORKER_CLASS='sync' is not valid: expected a Gunicorn worker class"),  # workers
        ({"ACCESS_LOG_FLUSH_SECONDS": "2"}, "ACCESS_LOG_FLUSH_SECONDS='2' is not valid: expected a number"),
        ({"HEALTHCHECK_PATH": "health"}, "HEALTHCHECK_PATH='health' is not valid: expected a path"),
    ],
)
def test_every_concerns_error_reaches_the_start_as_it_is(env: dict[str, str], message: str) -> None:
    assert setting_error(lambda: _load(env)).startswith(message)


def test_no_application_found_stops_the_reading() -> None:
    with pytest.raises(SettingError, match=r"^no application found: neither /app/app/main\.py nor /app/main\.py"):
        _load({}, files=())


def test_an_original_worker_class_name_is_fine_with_uvicorns_manager() -> None:
    env = {"WORKER_CLASS": "uvicorn.workers.UvicornH11Worker", "PROCESS_MANAGER": "uvicorn"}
    assert _load(env).worker_class == "uvicorn_worker.UvicornH11Worker"


def test_timeout_zero_means_no_timeout_with_gunicorn() -> None:
    assert _load({"TIMEOUT": "0"}).timeout == 0


def test_summary_is_plain_data() -> None:
    summary = _load({"ACCESS_LOG": ""}).summary()
    assert summary["app"] == "main:app"
    assert summary["access_log"] is None
    assert summary["workers"]["count"] == 2  # type: ignore[index]


def test_summary_has_the_access_line_settings_under_either_manager() -> None:
    env = {"ACCESS_LOG_FORMAT": "%(h)s %(r)s %(D)s", "ACCESS_LOG_EXCLUDE_PATHS": "/health,/metrics"}
    for manager in ("gunicorn", "uvicorn"):
        summary = _load({**env, "PROCESS_MANAGER": manager}).summary()
        assert summary["access_log_format"] == "%(h)s %(r)s %(D)s"
        assert summary["access_log_exclude_paths"] == ["/health", "/metrics"]


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"MAX_REQUESTS": "1000", "MAX_REQUESTS_JITTER": "50"}, (1000, 50, False, None)),
        ({"MAX_REQUESTS": "0"}, (0, 0, False, None)),
        ({"PRELOAD_APP": "True"}, (0, 0, True, None)),
        ({"PRELOAD_APP": "false"}, (0, 0, False, None)),
        ({"PROMETHEUS_MULTIPROC_DIR": "/tmp/metrics"}, (0, 0, False, "/tmp/metrics")),
        ({"PROCESS_MANAGER": "uvicorn", "MAX_REQUESTS": "0"}, (0, 0, False, None)),
        ({"PROCESS_MANAGER": "uvicorn", "PRELOAD_APP": "false"}, (0, 0, False, None)),
    ],
)
def test_recycling_preload_and_metrics_directory(
    env: dict[str, str], expected: tuple[int, int, bool, str | None]
) -> None:
    settings = _load(env)
    assert (
        settings.max_requests,
        settings.max_requests_jitter,
        settings.preload_app,
        settings.prometheus_multiproc_dir,
    ) == expected


@pytest.mark.parametrize(
    ("env", "seconds"),
    [
        ({}, 0),
        ({"DRAIN_SECONDS": ""}, 0),
        ({"DRAIN_SECONDS": "15"}, 15),
        ({"DRAIN_SECONDS": "0", "PROCESS_MANAGER": "uvicorn"}, 0),
    ],
)
def test_drain_seconds(env: dict[str, str], seconds: int) -> None:
    settings = _load(env)
    assert settings.drain_seconds == seconds
    assert settings.summary()["drain_seconds"] == seconds


def test_summary_has_the_production_settings() -> None:
    env = {
        "MAX_REQUESTS": "500",
        "MAX_WORKER_MEMORY_MB": "300",
        "PRELOAD_APP": "true",
        "PROMETHEUS_MULTIPROC_DIR": "/tmp/m",
    }
    summary = _load(env).summary()
    assert (summary["max_requests"], summary["max_requests_jitter"]) == (500, 0)
    assert summary["max_worker_memory_mb"] == 300
    assert summary["preload_app"] is True
    assert summary["prometheus_multiproc_dir"] == "/tmp/m"


@pytest.mark.parametrize(("value", "ceiling"), [("0", 0), ("1", 1), ("384", 384), ("", 0)])
def test_memory_ceiling(value: str, ceiling: int) -> None:
    assert _load({"MAX_WORKER_MEMORY_MB": value}).max_worker_memory_mb == ceiling


@pytest.mark.parametrize("value", ["0", ""])
def test_no_memory_ceiling_is_fine_with_uvicorns_manager(value: str) -> None:
    assert _load({"MAX_WORKER_MEMORY_MB": value, "PROCESS_MANAGER": "uvicorn"}).max_worker_memory_mb == 0


def test_a_memory_ceiling_needs_a_kernel_that_tells_a_worker_its_pss() -> None:
    files = ("/app/main.py", "/gunicorn_conf.py")  # before Linux 4.14: no smaps_rollup
    assert setting_error(lambda: _load({"MAX_WORKER_MEMORY_MB": "256"}, files)) == (
        "MAX_WORKER_MEMORY_MB='256' is not valid: expected 0 on a kernel without /proc/self/smaps_rollup"
        " (before Linux 4.14)"
    )
    assert _load({"MAX_WORKER_MEMORY_MB": "0"}, files).max_worker_memory_mb == 0


# No state between readings: each one depends on its own environment, limits and files only.

FIRST = {"APP_MODULE": "first:app", "WEB_CONCURRENCY": "3", "BIND": "unix:/tmp/first.sock", "LOG_FORMAT": "json"}
SECOND = {"MODULE_NAME": "second", "MAX_WORKERS": "1", "PORT": "8080", "PROCESS_MANAGER": "uvicorn"}


def test_two_readings_in_one_process_do_not_affect_each_other() -> None:
    first = _load(FIRST)
    second = load_settings(SECOND, CpuLimit(8, None), 1 << 30, lambda path: False)
    assert _load(FIRST) == first
    assert (first.app.spec, first.workers.count, first.bind, first.log_format) == (
        "first:app",
        3,
        "unix:/tmp/first.sock",
        "json",
    )
    assert (second.app.spec, second.workers.count, second.bind, second.log_format) == (
        "second:app",
        1,
        "0.0.0.0:8080",
        "text",
    )
    assert (first.gunicorn_conf, second.gunicorn_conf) == ("/gunicorn_conf.py", None)
    assert (first.workers.cpus, second.workers.cpus, second.workers.memory_limit_mb) == (2, 8, 1024)


def test_a_failed_reading_leaves_nothing_behind() -> None:
    before = _load(FIRST)
    with pytest.raises(SettingError):
        _load({**FIRST, "PORT": "http"})
    assert _load(FIRST) == before


# The launcher's reading, handed to the image's Gunicorn configuration file.


def test_the_configuration_file_takes_the_reading_it_was_handed(container_readings: list[Settings]) -> None:
    launchers = _load({"WEB_CONCURRENCY": "3"})
    assert load_for_gunicorn({}, hand_over(launchers)) is launchers
    assert container_readings == []


def test_without_a_hand_over_the_container_is_read_afresh(container_readings: list[Settings]) -> None:
    # A bare `gunicorn` command, and every reload (SIGHUP), which may follow a change of the limits.
    handed = hand_over(_load({"WEB_CONCURRENCY": "3"}))
    fresh = load_for_gunicorn({"WEB_CONCURRENCY": "5"}, {})
    assert container_readings == [fresh]
    assert fresh.workers.count == 5
    # Handing over to one namespace reaches no other, and is not used up by them.
    assert load_for_gunicorn({}, {HANDED_OVER: "not settings"}) is container_readings[1]
    assert load_for_gunicorn({}, handed) is handed[HANDED_OVER]


def test_two_hand_overs_do_not_meet() -> None:
    first, second = _load(FIRST), _load({"WEB_CONCURRENCY": "4"})
    first_namespace, second_namespace = hand_over(first), hand_over(second)
    assert load_for_gunicorn({}, second_namespace) is second
    assert load_for_gunicorn({}, first_namespace) is first
