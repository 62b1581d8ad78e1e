from __future__ import annotations

import gc
import importlib
import os
import sys
import types
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
from uvicorn_gunicorn_runtime import healthcheck, launch, uvicorn_logging
from uvicorn_gunicorn_runtime.app_import import load_app
from uvicorn_gunicorn_runtime.discovery import AppTarget
from uvicorn_gunicorn_runtime.environment import SettingError
from uvicorn_gunicorn_runtime.launch import (
    USER_CONF_LAYER,
    gunicorn_command,
    reload_command,
    uvicorn_command,
)
from uvicorn_gunicorn_runtime.limits import CpuLimit
from uvicorn_gunicorn_runtime.settings import Settings, load_settings
from uvicorn_gunicorn_runtime.worker_class import layered_user_config, resolve_worker_class
from uvicorn_gunicorn_runtime.worker_memory import SMAPS_ROLLUP

APP = AppTarget("probe_app", "app", ("MODULE_NAME", "VARIABLE_NAME"))
IMAGE_FILES = ("/app/main.py", "/gunicorn_conf.py")


def _settings(env: dict[str, str], files: tuple[str, ...] = IMAGE_FILES) -> Settings:
    return load_settings(env, CpuLimit(2, None), None, lambda path: path in files)


@pytest.fixture
def modules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh import path for a module named probe_app; write it, then call load_app."""
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop(APP.module, None)
    yield tmp_path
    sys.modules.pop(APP.module, None)


def _write(directory: Path, source: str) -> None:
    (directory / f"{APP.module}.py").write_text(source)
    importlib.invalidate_caches()


def test_importable_app_is_loaded(modules: Path) -> None:
    _write(modules, "async def app(scope, receive, send):\n    pass\n")
    assert getattr(load_app(APP), "__name__", None) == "app"


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (None, "MODULE_NAME='probe_app' VARIABLE_NAME='app': no module named 'probe_app'"),
        ("api = 1\n", "module 'probe_app' has no attribute 'app'"),
        ("app = 42\n", "'probe_app:app' is not callable"),
        ("import missing_dependency\n", "importing 'probe_app' failed: ModuleNotFoundError: No module named"),
        ("x = 1\nraise RuntimeError('boom')\n", "importing 'probe_app' failed: RuntimeError: boom ("),
        ("def app(:\n", "importing 'probe_app' failed: SyntaxError"),
        # SystemExit is no Exception: it used to end the start silently, with sys.exit's own code.
        ("import sys\nsys.exit(0)\n", "importing 'probe_app' failed: it called sys.exit(0) ("),
        ("import sys\nsys.exit('bye')\n", "importing 'probe_app' failed: it called sys.exit('bye') ("),
    ],
)
def test_broken_apps_fail_in_one_line(modules: Path, source: str | None, message: str) -> None:
    if source is not None:
        _write(modules, source)
    with pytest.raises(SettingError) as error:
        load_app(APP)
    assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_gunicorn_command() -> None:
    assert gunicorn_command(_settings({})) == ["gunicorn", "--config", "/gunicorn_conf.py", "main:app"]


def test_the_applications_own_config_file_runs_through_the_layer() -> None:
    settings = _settings({}, ("/app/main.py", "/app/gunicorn_conf.py", "/gunicorn_conf.py"))
    assert gunicorn_command(settings) == ["gunicorn", "--config", str(USER_CONF_LAYER), "main:app"]
    assert USER_CONF_LAYER.is_file()


class FakeWorker:
    """Stands in for gunicorn.workers.base.Worker: the unit tests run without Gunicorn."""


@pytest.fixture
def workers(modules: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fake gunicorn.workers.base, and a fresh import path for a module named probe_workers."""
    for name in ("gunicorn", "gunicorn.workers", "gunicorn.workers.base"):
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    sys.modules["gunicorn.workers.base"].Worker = FakeWorker  # type: ignore[attr-defined]
    monkeypatch.delitem(sys.modules, "probe_workers", raising=False)
    (modules / "probe_workers.py").write_text(
        "from gunicorn.workers.base import Worker\n"
        "class MyWorker(Worker):\n    CONFIG_KWARGS = {'loop': 'asyncio', 'http': 'h11'}\n"
        "class NotAWorker:\n    pass\n"
        "not_a_class = 1\n"
    )
    importlib.invalidate_caches()
    yield modules
    sys.modules.pop("probe_workers", None)


@pytest.mark.parametrize(
    ("value", "resolved"),
    [
        ("probe_workers.MyWorker", "probe_workers.MyWorker"),
        ("uvicorn_worker.UvicornWorker", "uvicorn_worker.UvicornWorker"),
        ("uvicorn.workers.UvicornH11Worker", "uvicorn_worker.UvicornH11Worker"),
    ],
)
def test_worker_class_resolves(workers: Path, value: str, resolved: str) -> None:
    assert resolve_worker_class(value, f"WORKER_CLASS={value!r}") == resolved


def test_the_images_own_worker_classes_need_no_import() -> None:
    # No Gunicorn in the unit tests' environment: an import of gunicorn or uvicorn_worker would fail here.
    for value in ("uvicorn_worker.UvicornWorker", "uvicorn.workers.UvicornWorker"):
        assert resolve_worker_class(value, "x").startswith("uvicorn_worker.")  # type: ignore[attr-defined]


def test_a_worker_class_object_from_a_config_file_is_kept(workers: Path) -> None:
    from probe_workers import MyWorker  # type: ignore[import-not-found]

    assert resolve_worker_class(MyWorker, "worker_class=MyWorker in /app/gunicorn_conf.py") is MyWorker


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("nowhere.Worker", "WORKER_CLASS='nowhere.Worker': no module named 'nowhere'"),
        ("probe_workers.Missing", "WORKER_CLASS='probe_workers.Missing': module 'probe_workers' has no attribute"),
        (
            "probe_workers.NotAWorker",
            "WORKER_CLASS='probe_workers.NotAWorker' is not a Gunicorn worker class: "
            "expected a subclass of gunicorn.workers.base.Worker",
        ),
        ("probe_workers.not_a_class", "WORKER_CLASS='probe_workers.not_a_class' is not a Gunicorn worker class"),
        ("json.JSONDecoder", "WORKER_CLASS='json.JSONDecoder' is not a Gunicorn worker class"),
        (
            "probe_workers_broken.Worker",
            "WORKER_CLASS='probe_workers_broken.Worker': importing 'probe_workers_broken' failed: RuntimeError: boom (",
        ),
        (
            "probe_workers_exits.Worker",
            "WORKER_CLASS='probe_workers_exits.Worker': importing 'probe_workers_exits' failed: it called sys.exit(3)",
        ),
        (
            "sync",
            "WORKER_CLASS='sync' is not valid: expected a Gunicorn worker class as module.Class, "
            "such as uvicorn_worker.UvicornWorker",
        ),
    ],
)
def test_bad_worker_class_in_one_line(workers: Path, value: str, message: str) -> None:
    (workers / "probe_workers_broken.py").write_text("raise RuntimeError('boom')\n")
    (workers / "probe_workers_exits.py").write_text("import sys\nsys.exit(3)\n")
    importlib.invalidate_caches()
    with pytest.raises(SettingError) as error:
        resolve_worker_class(value, f"WORKER_CLASS={value!r}")
    assert str(error.value).startswith(message)
    assert "\n" not in str(error.value)


HOOK_CONF = "workers = 3\n_marker = 'seen'\ndef post_fork(server, worker):\n    return _marker\n"


def test_a_logger_class_of_the_file_is_kept(workers: Path) -> None:
    conf = workers / "logger_conf.py"
    conf.write_text("logger_class = 'gunicorn.glogging.Logger'\n")
    assert layered_user_config({"GUNICORN_CONF": str(conf)})["logger_class"] == "gunicorn.glogging.Logger"


@pytest.mark.parametrize(
    ("source", "env", "worker_class"),
    [
        pytest.param(HOOK_CONF, {}, "uvicorn_worker.UvicornWorker", id="default-under-the-file"),
        pytest.param(
            HOOK_CONF + "worker_class = 'probe_workers.MyWorker'\n",
            {},
            "probe_workers.MyWorker",
            id="file-over-default",
        ),
        pytest.param(
            HOOK_CONF + "worker_class = 'probe_workers.MyWorker'\n",
            {"WORKER_CLASS": "uvicorn_worker.UvicornH11Worker"},
            "uvicorn_worker.UvicornH11Worker",
            id="WORKER_CLASS-over-file",
        ),
        pytest.param(
            HOOK_CONF + "worker_class = 'uvicorn.workers.UvicornWorker'\n",
            {},
            "uvicorn_worker.UvicornWorker",
            id="original-name-in-file",
        ),
    ],
)
def test_layered_user_config(
    workers: Path, capsys: pytest.CaptureFixture[str], source: str, env: dict[str, str], worker_class: str
) -> None:
    conf = workers / "my_conf.py"
    conf.write_text(source)
    settings = layered_user_config({"GUNICORN_CONF": str(conf), **env})
    assert settings["worker_class"] == worker_class
    assert settings["workers"] == 3
    assert settings["logger_class"] == "uvicorn_gunicorn_runtime.logs.BufferedAccessLogger"
    assert not [name for name in settings if name.startswith("__")]
    hook = settings["post_fork"]
    assert callable(hook) and hook(None, None) == "seen"  # a hook still sees the file's own globals
    *notices, which_file = capsys.readouterr().out.splitlines()
    assert which_file == f"notice: Gunicorn runs the application's own configuration file {conf}"
    assert settings["proc_name"] == f"{env.get('APP_MODULE', '')} -c {conf}".strip()
    if "uvicorn.workers" in source:
        assert notices == [
            f"notice: worker_class='uvicorn.workers.UvicornWorker' in {conf} is the original image's name; "
            "using uvicorn_worker.UvicornWorker (Uvicorn's uvicorn.workers module is deprecated)"
        ]
    else:
        assert notices == []


def test_the_image_serves_access_lines_before_the_files_own_hook(
    workers: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from uvicorn_gunicorn_runtime import access_lines

    served: list[object] = []
    monkeypatch.setattr(access_lines, "serve_access_lines", lambda worker: served.append(("image", worker)))
    conf = workers / "my_conf.py"
    conf.write_text("access_log_format = 'own %(m)s'\ndef post_worker_init(worker):\n    worker.append('own')\n")
    settings = layered_user_config({"GUNICORN_CONF": str(conf)})
    worker: list[str] = []
    hook = settings["post_worker_init"]
    assert callable(hook)
    hook(worker)
    assert served == [("image", worker)] and worker == ["own"]
    assert settings["access_log_format"] == "own %(m)s"
    without_hook = workers / "plain_conf.py"
    without_hook.write_text("access_log_format = 'own %(m)s'\n")
    settings = layered_user_config({"GUNICORN_CONF": str(without_hook), "ACCESS_LOG_FORMAT": "env %(m)s"})
    assert settings["access_log_format"] == "env %(m)s"  # the variable over the file, as WORKER_CLASS
    assert settings["post_worker_init"] is access_lines.serve_access_lines


def test_a_files_hook_gunicorn_would_refuse_is_named_in_one_line(workers: Path) -> None:
    conf = workers / "my_conf.py"
    conf.write_text("def post_worker_init():\n    pass\n")
    with pytest.raises(SettingError) as error:
        layered_user_config({"GUNICORN_CONF": str(conf)})
    assert str(error.value).startswith(f"GUNICORN_CONF={str(conf)!r}: post_worker_init=<function post_worker_init")
    assert "TypeError: Value must have an arity of: 1" in str(error.value)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("workers = 2\nworkers = undefined_name\n", "NameError: name 'undefined_name' is not defined ("),
        ("import sys\nsys.exit(1)\n", "it called sys.exit(1) ("),
        ("worker_class = 'probe_workers.NotAWorker'\n", "is not a Gunicorn worker class"),
    ],
)
def test_broken_user_config_in_one_line(workers: Path, source: str, message: str) -> None:
    conf = workers / "my_conf.py"
    conf.write_text(source)
    with pytest.raises(SettingError) as error:
        layered_user_config({"GUNICORN_CONF": str(conf)})
    assert message in str(error.value)
    assert str(conf) in str(error.value)
    assert "\n" not in str(error.value)


class Exec(Exception):
    """Raised instead of exec or of Gunicorn's run, once the command has been recorded."""


@pytest.fixture
def launched(modules: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[list[str]]]:
    """main() with probe_app as the application, and the server it would become (os.execvp, or
    Gunicorn in-process: a stand-in module, since the unit tests run without Gunicorn) recorded."""
    _write(modules, "async def app(scope, receive, send):\n    pass\n")
    commands: list[list[str]] = []

    def record(*arguments: object, **options: object) -> None:
        command = arguments[-1]
        assert isinstance(command, list)
        commands.append(command)
        raise Exec

    monkeypatch.setattr(os, "execvp", record)
    in_process = types.ModuleType("uvicorn_gunicorn_runtime.gunicorn_server")
    in_process.serve = record  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, in_process.__name__, in_process)
    monkeypatch.setattr(uvicorn_logging, "CONFIG_FILE", modules / "logging.json")
    monkeypatch.setattr(healthcheck, "RECORD", str(modules / "health"))
    for name in ("WORKER_CLASS", "GUNICORN_CONF", "GUNICORN_CMD_ARGS", "PROCESS_MANAGER", "TIMEOUT", "MODULE_NAME"):
        monkeypatch.setenv(name, "")  # so that monkeypatch restores what main() sets
        monkeypatch.delenv(name)
    monkeypatch.setenv("APP_MODULE", "probe_app:app")
    monkeypatch.delenv("VIRTUAL_ENV", raising=False)  # no virtual environment: see test_virtual_env
    monkeypatch.setenv("PATH", "/usr/local/bin:/usr/bin:/bin")
    yield commands
    gc.enable()  # main() turns collection off before Gunicorn's imports


def test_main_leaves_gunicorn_cmd_args_to_the_user(
    launched: list[list[str]], modules: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    conf = modules / "gunicorn_conf.py"
    conf.write_text("workers = 1\n")
    monkeypatch.setenv("GUNICORN_CONF", str(conf))
    monkeypatch.setenv("GUNICORN_CMD_ARGS", "--workers 3")
    monkeypatch.setenv("WORKER_CLASS", "uvicorn_worker.UvicornH11Worker")
    with pytest.raises(Exec):
        launch.main(["launch"])
    assert launched == [["gunicorn", "--config", str(USER_CONF_LAYER), "probe_app:app"]]
    # Gunicorn reads GUNICORN_CMD_ARGS after any config file: left alone, it wins over everything.
    assert os.environ["GUNICORN_CMD_ARGS"] == "--workers 3"
    assert os.environ["GUNICORN_CONF"] == str(conf)


@pytest.mark.parametrize("reload", [False, True])
def test_main_exports_app_module_as_the_original_did(
    launched: list[list[str]], monkeypatch: pytest.MonkeyPatch, reload: bool
) -> None:
    monkeypatch.delenv("APP_MODULE")
    monkeypatch.setenv("MODULE_NAME", "probe_app")
    with pytest.raises(Exec):
        launch.main(["launch", "--reload"] if reload else ["launch"])
    assert os.environ["APP_MODULE"] == "probe_app:app"


@pytest.mark.parametrize("manager", ["gunicorn", "uvicorn"])
def test_main_says_once_that_an_original_worker_class_was_replaced(
    launched: list[list[str]], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, manager: str
) -> None:
    monkeypatch.setenv("WORKER_CLASS", "uvicorn.workers.UvicornH11Worker")
    monkeypatch.setenv("PROCESS_MANAGER", manager)
    with pytest.raises(Exec):
        launch.main(["launch"])
    notices = [line for line in capsys.readouterr().out.splitlines() if line.startswith("notice:")]
    assert notices == [
        "notice: WORKER_CLASS='uvicorn.workers.UvicornH11Worker' is the original image's name; "
        "using uvicorn_worker.UvicornH11Worker (Uvicorn's uvicorn.workers module is deprecated)"
    ]
    if manager == "uvicorn":
        assert "--http h11 --loop asyncio" in " ".join(launched[0])


def test_main_refuses_timeout_zero_with_uvicorns_manager(
    launched: list[list[str]], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROCESS_MANAGER", "uvicorn")
    monkeypatch.setenv("TIMEOUT", "0")
    assert launch.main(["launch"]) == 2
    assert launched == []
    assert capsys.readouterr().err.splitlines() == [
        "error: TIMEOUT='0' is not valid: expected a whole number from 1 up with PROCESS_MANAGER=uvicorn, "
        "whose worker health check cannot be turned off"
    ]


def test_uvicorn_command_carries_the_shared_settings() -> None:
    env = {
        "PROCESS_MANAGER": "uvicorn",
        "WEB_CONCURRENCY": "3",
        "BIND": "[::]:8080",
        "LOG_LEVEL": "warning",
        "ACCESS_LOG": "",
        "KEEP_ALIVE": "7",
        "GRACEFUL_TIMEOUT": "9",
        "TIMEOUT": "30",
        "FORWARDED_ALLOW_IPS": "*",
        "WORKER_CLASS": "uvicorn_worker.UvicornH11Worker",
        "LOG_FORMAT": "json",
    }
    command = uvicorn_command(_settings(env), Path("/dev/shm/logging.json"))
    text = " ".join(command)
    assert command[:4] == [sys.executable, "-m", "uvicorn_gunicorn_runtime.uvicorn_cli", "main:app"]
    for expected in (
        "--host :: --port 8080",
        "--log-level warning",
        "--no-access-log",
        "--workers 3",
        "--timeout-keep-alive 7",
        "--timeout-graceful-shutdown 9",
        "--timeout-worker-healthcheck 30",
        "--forwarded-allow-ips * --proxy-headers",
        "--http h11 --loop asyncio",
        "--log-config /dev/shm/logging.json",
    ):
        assert expected in text, expected


@pytest.mark.parametrize("reload", [False, True])
def test_uvicorn_serves_the_app_in_the_access_layer_without_its_own_line(reload: bool) -> None:
    make = reload_command if reload else uvicorn_command
    settings = _settings({"PROCESS_MANAGER": "uvicorn"})
    assert make(settings)[3:5] == [launch.ACCESS_LAYER, "--factory"]
    assert "--no-access-log" in make(settings)
    assert make(_settings({"PROCESS_MANAGER": "uvicorn", "ACCESS_LOG": ""}))[3] == "main:app"


def test_unix_socket_for_uvicorn() -> None:
    command = uvicorn_command(_settings({"PROCESS_MANAGER": "uvicorn", "BIND": "unix:/tmp/s.sock"}))
    assert "--uds /tmp/s.sock" in " ".join(command)


def test_reload_refuses_an_inherited_socket_in_one_line(
    launched: list[list[str]], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BIND", "fd://3")
    assert launch.main(["launch", "--reload"]) == 2
    assert launched == []
    assert capsys.readouterr().err.splitlines() == [
        "error: BIND='fd://3' is not valid: expected host:port or unix:/path with /start-reload.sh"
    ]


@pytest.mark.parametrize(
    ("bind", "arguments"),
    [("[::1]:8080", "--host ::1 --port 8080"), ("unix:/tmp/s.sock", "--uds /tmp/s.sock")],
)
def test_reload_listens_where_bind_says(bind: str, arguments: str) -> None:
    assert arguments in " ".join(reload_command(_settings({"BIND": bind})))


def test_reload_command_is_one_process() -> None:
    command = reload_command(_settings({"PORT": "8080"}))
    assert "--reload" in command
    assert "--workers" not in command
    assert "--host 0.0.0.0 --port 8080" in " ".join(command)


@pytest.mark.parametrize(("manager", "imported"), [("gunicorn", False), ("uvicorn", True)])
def test_only_uvicorns_manager_has_the_launcher_import_the_app(
    launched: list[list[str]], monkeypatch: pytest.MonkeyPatch, manager: str, imported: bool
) -> None:
    # Gunicorn's workers import it themselves; an import here would cost the start its time,
    # or preload the application into Gunicorn's master, which runs in this process.
    monkeypatch.setenv("PROCESS_MANAGER", manager)
    with pytest.raises(Exec):
        launch.main(["launch"])
    assert (APP.module in sys.modules) is imported


def test_a_broken_app_stops_uvicorns_manager_before_it_starts(
    launched: list[list[str]], modules: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _write(modules, "value = 1 / 0\n")
    monkeypatch.setenv("PROCESS_MANAGER", "uvicorn")
    assert launch.main(["launch"]) == 2
    assert launched == []
    assert "importing 'probe_app' failed: ZeroDivisionError" in capsys.readouterr().err


def test_main_hands_its_reading_to_gunicorn(launched: list[list[str]], monkeypatch: pytest.MonkeyPatch) -> None:
    """Gunicorn's configuration file takes it (see test_gunicorn_server): the container is read
    once. The memory ceiling and the drain go to Gunicorn's application, whichever configuration
    file runs."""
    handed: list[dict[str, object]] = []

    def serve(app: AppTarget, command: list[str], **options: object) -> int:
        handed.append(options)
        raise Exec

    monkeypatch.setattr(sys.modules["uvicorn_gunicorn_runtime.gunicorn_server"], "serve", serve)
    monkeypatch.setenv("WEB_CONCURRENCY", "3")
    monkeypatch.setenv("MAX_WORKER_MEMORY_MB", "200")
    monkeypatch.setenv("DRAIN_SECONDS", "15")
    with pytest.raises(Exec):
        launch.main(["launch"])
    [options] = handed
    reading = options["handed_over"]
    assert isinstance(reading, Settings)
    assert (reading.app.spec, reading.workers.count) == ("probe_app:app", 3)
    assert (options["memory_ceiling_mb"], options["drain_seconds"]) == (200, 15)


@pytest.mark.parametrize(("ceiling", "warns"), [("128", False), ("200", True), ("0", False)])
def test_main_warns_when_the_workers_ceilings_exceed_the_memory_limit(
    launched: list[list[str]],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    ceiling: str,
    warns: bool,
) -> None:
    """512 MiB at MEMORY_PER_WORKER_MB's 128: 4 workers."""

    def load_in_container(environ: Mapping[str, str], virtual_env: object) -> Settings:
        return load_settings(environ, CpuLimit(8, None), 512 << 20, lambda path: path in (*IMAGE_FILES, SMAPS_ROLLUP))

    monkeypatch.setattr(launch, "load_in_container", load_in_container)
    monkeypatch.setenv("MAX_WORKER_MEMORY_MB", ceiling)
    with pytest.raises(Exec):
        launch.main(["launch"])
    expected = [
        "warning: MAX_WORKER_MEMORY_MB=200 x 4 workers is above the container's memory limit of 512 MiB:"
        " the kernel may kill a worker before its ceiling replaces it (see MEMORY_PER_WORKER_MB)"
    ]
    assert capsys.readouterr().err.splitlines() == (expected if warns else [])


@pytest.mark.parametrize(
    ("env", "spec", "named"),
    [
        ({"APP_MODULE": "probe_app:create_app()"}, "probe_app:create_app()", "APP_MODULE='probe_app:create_app()'"),
        (
            {"MODULE_NAME": "probe_app", "VARIABLE_NAME": "create_app()"},
            "probe_app:create_app()",
            "MODULE_NAME='probe_app' VARIABLE_NAME='create_app()'",
        ),
    ],
)
def test_a_factory_as_the_original_image_took_it(modules: Path, env: dict[str, str], spec: str, named: str) -> None:
    _write(modules, "def create_app():\n    async def app(scope, receive, send):\n        pass\n    return app\n")
    settings = _settings(env)
    assert settings.app.spec == spec and settings.app.describe() == named
    assert getattr(load_app(settings.app), "__name__", None) == "app"
    assert gunicorn_command(settings)[-1] == spec
    uvicorn = uvicorn_command(_settings({**env, "PROCESS_MANAGER": "uvicorn", "ACCESS_LOG": ""}))
    assert uvicorn[3:5] == ["probe_app:create_app", "--factory"]


def test_a_factory_that_fails_in_one_line(modules: Path) -> None:
    _write(modules, "def create_app():\n    raise RuntimeError('no database')\n")
    with pytest.raises(SettingError) as error:
        load_app(_settings({"APP_MODULE": "probe_app:create_app()"}).app)
    assert str(error.value).startswith(
        "APP_MODULE='probe_app:create_app()': calling create_app() failed: RuntimeError: no database ("
    )


@pytest.mark.parametrize("manager", ["gunicorn", "uvicorn"])
def test_main_creates_and_empties_the_prometheus_directory(
    launched: list[list[str]],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    manager: str,
) -> None:
    existing = tmp_path / "metrics"
    existing.mkdir()
    for name in ("counter_12.db", "gauge_livesum_12.db", "notes.txt"):
        (existing / name).write_text("x")
    (existing / "kept.db").mkdir()
    missing = tmp_path / "missing" / "metrics"
    for directory in (existing, missing):
        monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(directory))
        monkeypatch.setenv("PROCESS_MANAGER", manager)
        with pytest.raises(Exec):
            launch.main(["launch"])
    assert sorted(path.name for path in existing.iterdir()) == ["kept.db", "notes.txt"]
    assert missing.is_dir()
    # The unit tests run without prometheus_client: one notice per start, and no hook to install.
    notices = [line for line in capsys.readouterr().out.splitlines() if line.startswith("notice:")]
    assert (
        notices
        == [
            "notice: PROMETHEUS_MULTIPROC_DIR is set but prometheus_client is not installed: "
            "the directory is ready, no worker is marked dead"
        ]
        * 2
    )


def test_main_says_in_one_line_when_the_prometheus_directory_cannot_be_made(
    launched: list[list[str]], tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "file").write_text("")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "file"))
    assert launch.main(["launch"]) == 2
    assert launched == []
    assert capsys.readouterr().err.splitlines() == [
        f"error: PROMETHEUS_MULTIPROC_DIR={str(tmp_path / 'file')!r}: it exists and is not a directory"
    ]
