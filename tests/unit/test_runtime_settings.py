from __future__ import annotations

import pytest
from uvicorn_gunicorn_runtime.limits import CpuLimit
from uvicorn_gunicorn_runtime.settings import (
    DEFAULT_MEMORY_PER_WORKER_MB,
    Environment,
    SettingError,
    Settings,
    load_settings,
    plan_workers,
    renamed_worker_class_notice,
)

TWO_CPUS = CpuLimit(2, None)
GIB = 1 << 30


def _load(env: dict[str, str], files: tuple[str, ...] = ("/app/main.py", "/gunicorn_conf.py")) -> Settings:
    return load_settings(env, TWO_CPUS, None, lambda path: path in files)


def test_defaults() -> None:
    settings = _load({})
    assert settings.process_manager == "gunicorn"
    assert settings.app.spec == "main:app"
    assert settings.gunicorn_conf == "/gunicorn_conf.py"
    assert settings.workers.count == 2
    assert settings.bind == "0.0.0.0:80"
    assert (settings.log_level, settings.log_format) == ("info", "text")
    assert (settings.access_log, settings.error_log) == ("-", "-")
    assert settings.worker_class == "uvicorn_worker.UvicornWorker"
    assert (settings.timeout, settings.graceful_timeout, settings.keep_alive) == (120, 120, 5)
    assert settings.forwarded_allow_ips == "127.0.0.1,::1"
    assert (settings.max_requests, settings.max_requests_jitter, settings.preload_app) == (0, 0, False)
    assert settings.prometheus_multiproc_dir is None


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"WORKERS_PER_CORE": "abc"}, "WORKERS_PER_CORE='abc' is not valid: expected a number above 0"),
        ({"WORKERS_PER_CORE": "0"}, "WORKERS_PER_CORE='0' is not valid"),
        ({"WORKERS_PER_CORE": "nan"}, "WORKERS_PER_CORE='nan' is not valid"),
        ({"WEB_CONCURRENCY": "0"}, "WEB_CONCURRENCY='0' is not valid: expected a whole number from 1 up"),
        ({"WEB_CONCURRENCY": "2.5"}, "WEB_CONCURRENCY='2.5' is not valid"),
        ({"MAX_WORKERS": "-1"}, "MAX_WORKERS='-1' is not valid"),
        ({"MEMORY_PER_WORKER_MB": "lots"}, "MEMORY_PER_WORKER_MB='lots' is not valid"),
        ({"PORT": "70000"}, "PORT='70000' is not valid: expected a whole number from 1 to 65535"),
        ({"PORT": "http"}, "PORT='http' is not valid"),
        ({"LOG_LEVEL": "loud"}, "LOG_LEVEL='loud' is not valid: expected one of critical, error, warning, info, debug"),
        ({"LOG_FORMAT": "xml"}, "LOG_FORMAT='xml' is not valid: expected one of text, json"),
        ({"PROCESS_MANAGER": "x"}, "PROCESS_MANAGER='x' is not valid: expected one of gunicorn, uvicorn"),
        (
            {"WORKER_CLASS": "sync"},
            "WORKER_CLASS='sync' is not valid: expected a Gunicorn worker class as module.Class, "
            "such as uvicorn_worker.UvicornWorker",
        ),
        ({"WORKER_CLASS": "my-workers.Worker"}, "WORKER_CLASS='my-workers.Worker' is not valid"),
        ({"WORKER_CLASS": "uvicorn.workers."}, "WORKER_CLASS='uvicorn.workers.' is not valid"),
        ({"TIMEOUT": "-5"}, "TIMEOUT='-5' is not valid"),
        ({"GRACEFUL_TIMEOUT": "soon"}, "GRACEFUL_TIMEOUT='soon' is not valid"),
        ({"KEEP_ALIVE": "1.5"}, "KEEP_ALIVE='1.5' is not valid"),
        (
            {"BIND": "0.0.0.0"},
            "BIND='0.0.0.0' is not valid: expected host:port or [ipv6]:port with a port from 1 to 65535, "
            "unix:/path or fd://N",
        ),
        ({"BIND": ":80"}, "BIND=':80' is not valid"),
        ({"BIND": "0.0.0.0:99999"}, "BIND='0.0.0.0:99999' is not valid"),
        ({"BIND": "0.0.0.0:0"}, "BIND='0.0.0.0:0' is not valid"),
        ({"BIND": "::1:80"}, "BIND='::1:80' is not valid"),
        ({"BIND": "[::1]"}, "BIND='[::1]' is not valid"),
        ({"BIND": "[localhost]:80"}, "BIND='[localhost]:80' is not valid"),
        ({"BIND": "[::1]:80x"}, "BIND='[::1]:80x' is not valid"),
        ({"BIND": "0.0.0.0: 80"}, "BIND='0.0.0.0: 80' is not valid"),
        ({"BIND": "0.0.0.0:+80"}, "BIND='0.0.0.0:+80' is not valid"),
        ({"BIND": "my host:80"}, "BIND='my host:80' is not valid"),
        ({"BIND": "unix:"}, "BIND='unix:' is not valid"),
        ({"BIND": "fd://abc"}, "BIND='fd://abc' is not valid"),
        ({"BIND": "fd://"}, "BIND='fd://' is not valid"),
        (
            {"HOST": "localhost:8080"},
            "HOST='localhost:8080' is not valid: expected an IP address or a host name, without a port "
            "(PORT sets the port)",
        ),
        ({"HOST": "0.0.0.0:80"}, "HOST='0.0.0.0:80' is not valid"),
        ({"HOST": "999.1.1.1"}, "HOST='999.1.1.1' is not valid"),
        ({"HOST": "1.2.3"}, "HOST='1.2.3' is not valid"),
        ({"HOST": "010.0.0.1"}, "HOST='010.0.0.1' is not valid"),
        ({"HOST": "my host"}, "HOST='my host' is not valid"),
        ({"HOST": "-bad.example"}, "HOST='-bad.example' is not valid"),
        ({"HOST": "[localhost]"}, "HOST='[localhost]' is not valid"),
        ({"HOST": "[::1"}, "HOST='[::1' is not valid"),
        ({"HOST": "http://0.0.0.0"}, "HOST='http://0.0.0.0' is not valid"),
        ({"HOST": "bad host", "BIND": "0.0.0.0:80"}, "HOST='bad host' is not valid"),
        ({"WEB_CONCURRENCY": "1_000"}, "WEB_CONCURRENCY='1_000' is not valid: expected a whole number from 1 up"),
        ({"WEB_CONCURRENCY": "+3"}, "WEB_CONCURRENCY='+3' is not valid"),
        ({"WEB_CONCURRENCY": " 8 "}, "WEB_CONCURRENCY=' 8 ' is not valid"),
        ({"WEB_CONCURRENCY": "\u0663"}, "WEB_CONCURRENCY='\u0663' is not valid"),  # ARABIC-INDIC DIGIT THREE
        ({"MAX_WORKERS": "1e3"}, "MAX_WORKERS='1e3' is not valid"),
        ({"PORT": "8080\n"}, "PORT='8080\\n' is not valid"),
        ({"TIMEOUT": "9" * 5000}, "TIMEOUT='999"),  # longer than int() takes: still one line, no traceback
        ({"WORKERS_PER_CORE": "1e1"}, "WORKERS_PER_CORE='1e1' is not valid: expected a number above 0"),
        ({"WORKERS_PER_CORE": "+1"}, "WORKERS_PER_CORE='+1' is not valid"),
        ({"WORKERS_PER_CORE": " 1"}, "WORKERS_PER_CORE=' 1' is not valid"),
        ({"WORKERS_PER_CORE": "1_0"}, "WORKERS_PER_CORE='1_0' is not valid"),
        ({"WORKERS_PER_CORE": "inf"}, "WORKERS_PER_CORE='inf' is not valid"),
        ({"WORKERS_PER_CORE": "-1"}, "WORKERS_PER_CORE='-1' is not valid"),
        ({"WORKERS_PER_CORE": "0.00"}, "WORKERS_PER_CORE='0.00' is not valid"),
        ({"WORKERS_PER_CORE": "."}, "WORKERS_PER_CORE='.' is not valid"),
        ({"APP_MODULE": "main"}, "APP_MODULE='main' is not valid: expected module:variable"),
        ({"APP_MODULE": "main:app\n"}, "APP_MODULE='main:app\\n' is not valid"),
        ({"MODULE_NAME": "my-app"}, "MODULE_NAME='my-app' is not valid"),
        ({"MODULE_NAME": "main\n"}, "MODULE_NAME='main\\n' is not valid"),
        ({"VARIABLE_NAME": "app('prod')"}, "VARIABLE_NAME=\"app('prod')\" is not valid"),
        ({"GUNICORN_CONF": "/nope.py"}, "GUNICORN_CONF='/nope.py' is not valid: expected the path of an existing file"),
        ({"PROCESS_MANAGER": "uvicorn", "ACCESS_LOG": "/var/log/access.log"}, "ACCESS_LOG='/var/log/access.log'"),
        ({"PROCESS_MANAGER": "uvicorn", "BIND": "fd://3"}, "BIND='fd://3' is not valid"),
        (
            {"PROCESS_MANAGER": "uvicorn", "TIMEOUT": "0"},
            "TIMEOUT='0' is not valid: expected a whole number from 1 up with PROCESS_MANAGER=uvicorn, "
            "whose worker health check cannot be turned off",
        ),
        ({"PROCESS_MANAGER": "uvicorn", "TIMEOUT": "00"}, "TIMEOUT='00' is not valid"),
        ({"MAX_REQUESTS": "-1"}, "MAX_REQUESTS='-1' is not valid: expected a whole number from 0 up"),
        ({"MAX_REQUESTS": "1k"}, "MAX_REQUESTS='1k' is not valid"),
        ({"MAX_REQUESTS_JITTER": "5.5"}, "MAX_REQUESTS_JITTER='5.5' is not valid: expected a whole number from 0 up"),
        ({"PRELOAD_APP": "yes"}, "PRELOAD_APP='yes' is not valid: expected one of true, false"),
        ({"PRELOAD_APP": "1"}, "PRELOAD_APP='1' is not valid"),
        (
            {"PROMETHEUS_MULTIPROC_DIR": "metrics"},
            "PROMETHEUS_MULTIPROC_DIR='metrics' is not valid: expected the absolute path of a directory other than /",
        ),
        ({"PROMETHEUS_MULTIPROC_DIR": "/"}, "PROMETHEUS_MULTIPROC_DIR='/' is not valid"),
        ({"PROMETHEUS_MULTIPROC_DIR": "//"}, "PROMETHEUS_MULTIPROC_DIR='//' is not valid"),
        ({"PROMETHEUS_MULTIPROC_DIR": "/tmp/.."}, "PROMETHEUS_MULTIPROC_DIR='/tmp/..' is not valid"),
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
            {"PROCESS_MANAGER": "uvicorn", "WORKER_CLASS": "app.workers.MyWorker"},
            "WORKER_CLASS='app.workers.MyWorker' is not valid: expected uvicorn_worker.UvicornWorker or "
            "uvicorn_worker.UvicornH11Worker with PROCESS_MANAGER=uvicorn, which runs no Gunicorn worker",
        ),
    ],
)
def test_bad_values_are_named_in_one_line(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingError) as error:
        _load(env)
    assert str(error.value).startswith(message)
    assert "\n" not in str(error.value)


def test_no_application_found() -> None:
    with pytest.raises(SettingError, match=r"^no application found: neither /app/app/main\.py nor /app/main\.py"):
        _load({}, files=())


@pytest.mark.parametrize(
    ("env", "files", "spec", "named_by"),
    [
        ({}, ("/app/app/main.py", "/app/main.py"), "app.main:app", ("MODULE_NAME", "VARIABLE_NAME")),
        ({}, ("/app/main.py",), "main:app", ("MODULE_NAME", "VARIABLE_NAME")),
        ({"MODULE_NAME": "svc.api", "VARIABLE_NAME": "api"}, (), "svc.api:api", ("MODULE_NAME", "VARIABLE_NAME")),
        ({"APP_MODULE": "x.y:z", "MODULE_NAME": "ignored"}, ("/app/main.py",), "x.y:z", ("APP_MODULE",)),
    ],
)
def test_app_discovery(env: dict[str, str], files: tuple[str, ...], spec: str, named_by: tuple[str, ...]) -> None:
    app = _load(env, files).app
    assert (app.spec, app.named_by) == (spec, named_by)


@pytest.mark.parametrize(
    ("env", "files", "conf"),
    [
        ({}, ("/app/main.py", "/app/gunicorn_conf.py", "/gunicorn_conf.py"), "/app/gunicorn_conf.py"),
        ({}, ("/app/main.py", "/app/app/gunicorn_conf.py", "/gunicorn_conf.py"), "/app/app/gunicorn_conf.py"),
        ({"GUNICORN_CONF": "/etc/g.py"}, ("/app/main.py", "/app/gunicorn_conf.py", "/etc/g.py"), "/etc/g.py"),
        ({}, ("/app/main.py",), None),
    ],
)
def test_gunicorn_conf_location(env: dict[str, str], files: tuple[str, ...], conf: str | None) -> None:
    assert _load(env, files).gunicorn_conf == conf


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"HOST": "127.0.0.1", "PORT": "8080"}, "127.0.0.1:8080"),
        ({"HOST": "::"}, "[::]:80"),
        ({"HOST": "[::1]", "PORT": "8080"}, "[::1]:8080"),
        ({"HOST": "fe80::1%eth0"}, "[fe80::1%eth0]:80"),
        ({"HOST": "localhost"}, "localhost:80"),
        ({"HOST": "api-1.internal."}, "api-1.internal.:80"),
        ({"HOST": "10.0.0.255", "PORT": "08080"}, "10.0.0.255:8080"),
        ({"BIND": "unix:/tmp/app.sock", "PORT": "1"}, "unix:/tmp/app.sock"),
        ({"BIND": "[::1]:9000", "HOST": "0.0.0.0"}, "[::1]:9000"),
        ({"BIND": "localhost:65535"}, "localhost:65535"),
        ({"BIND": "fd://3"}, "fd://3"),
    ],
)
def test_bind(env: dict[str, str], expected: str) -> None:
    assert _load(env).bind == expected


@pytest.mark.parametrize(
    ("env", "cpu", "memory", "count"),
    [
        ({}, CpuLimit(1, None), None, 2),
        ({}, CpuLimit(8, None), None, 8),
        ({"WORKERS_PER_CORE": "0.5"}, CpuLimit(8, None), None, 4),
        ({"WORKERS_PER_CORE": "3"}, CpuLimit(64, 1.0), None, 3),
        # Exact decimal arithmetic: as floats, 0.57 x 100 and 0.29 x 100 truncate to 56 and 28.
        ({"WORKERS_PER_CORE": "0.57"}, CpuLimit(100, None), None, 57),
        ({"WORKERS_PER_CORE": "0.29"}, CpuLimit(100, None), None, 29),
        ({"WORKERS_PER_CORE": "2.5"}, CpuLimit(3, None), None, 7),
        ({"WORKERS_PER_CORE": ".5"}, CpuLimit(9, None), None, 4),
        ({"WORKERS_PER_CORE": "3."}, CpuLimit(2, None), None, 6),
        ({"WORKERS_PER_CORE": "0.01"}, CpuLimit(8, None), None, 2),
        ({"MAX_WORKERS": "4"}, CpuLimit(64, None), None, 4),
        ({"MAX_WORKERS": "1"}, CpuLimit(2, None), None, 1),
        ({"WEB_CONCURRENCY": "7", "MAX_WORKERS": "2"}, CpuLimit(2, None), None, 7),
        ({}, CpuLimit(64, None), 1 * GIB, 1024 // DEFAULT_MEMORY_PER_WORKER_MB),
        ({"MEMORY_PER_WORKER_MB": "300"}, CpuLimit(8, None), 1 * GIB, 3),
        ({"MEMORY_PER_WORKER_MB": "300"}, CpuLimit(8, None), 100 << 20, 1),
        ({"WEB_CONCURRENCY": "6", "MEMORY_PER_WORKER_MB": "300"}, CpuLimit(8, None), 1 * GIB, 6),
    ],
)
def test_worker_plan(env: dict[str, str], cpu: CpuLimit, memory: int | None, count: int) -> None:
    assert plan_workers(Environment(env), cpu, memory).count == count


def test_worker_plan_records_its_inputs() -> None:
    plan = plan_workers(Environment({"MEMORY_PER_WORKER_MB": "256"}), CpuLimit(4, 0.5), 512 << 20)
    assert (plan.cpu_affinity, plan.cpu_quota, plan.cpus) == (4, 0.5, 1)
    assert (plan.memory_limit_mb, plan.memory_per_worker_mb, plan.count) == (512, 256, 2)
    assert plan.rule.startswith("max(2")


def test_summary_is_plain_data() -> None:
    summary = _load({"ACCESS_LOG": ""}).summary()
    assert summary["app"] == "main:app"
    assert summary["access_log"] is None
    assert summary["workers"]["count"] == 2  # type: ignore[index]


@pytest.mark.parametrize(
    ("env", "worker_class"),
    [
        ({}, "uvicorn_worker.UvicornWorker"),
        ({"WORKER_CLASS": "uvicorn_worker.UvicornH11Worker"}, "uvicorn_worker.UvicornH11Worker"),
        # The original image's names (its README's own example) become uvicorn-worker's.
        ({"WORKER_CLASS": "uvicorn.workers.UvicornWorker"}, "uvicorn_worker.UvicornWorker"),
        ({"WORKER_CLASS": "uvicorn.workers.UvicornH11Worker"}, "uvicorn_worker.UvicornH11Worker"),
        (
            {"WORKER_CLASS": "uvicorn.workers.UvicornH11Worker", "PROCESS_MANAGER": "uvicorn"},
            "uvicorn_worker.UvicornH11Worker",
        ),
        # Any class path: whether it imports and is a Gunicorn worker is checked where Gunicorn loads it.
        ({"WORKER_CLASS": "app.workers.MyWorker"}, "app.workers.MyWorker"),
    ],
)
def test_worker_class(env: dict[str, str], worker_class: str) -> None:
    assert _load(env).worker_class == worker_class


def test_timeout_zero_means_no_timeout_with_gunicorn() -> None:
    assert _load({"TIMEOUT": "0"}).timeout == 0


def test_notice_for_the_original_worker_class_names() -> None:
    named_by = "WORKER_CLASS='uvicorn.workers.UvicornH11Worker'"
    assert renamed_worker_class_notice("uvicorn.workers.UvicornH11Worker", named_by) == (
        "notice: WORKER_CLASS='uvicorn.workers.UvicornH11Worker' is the original image's name; "
        "using uvicorn_worker.UvicornH11Worker (Uvicorn's uvicorn.workers module is deprecated)"
    )
    for value in ("uvicorn_worker.UvicornWorker", "app.workers.MyWorker", None, object):
        assert renamed_worker_class_notice(value, "x") is None


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


def test_summary_has_the_production_settings() -> None:
    summary = _load({"MAX_REQUESTS": "500", "PRELOAD_APP": "true", "PROMETHEUS_MULTIPROC_DIR": "/tmp/m"}).summary()
    assert (summary["max_requests"], summary["max_requests_jitter"]) == (500, 0)
    assert summary["preload_app"] is True
    assert summary["prometheus_multiproc_dir"] == "/tmp/m"
