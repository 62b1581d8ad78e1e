"""What of the runtime each light entry point loads, in a fresh interpreter as the image runs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

RUNTIME = Path(__file__).resolve().parents[3] / "common" / "runtime"


def _runtime_modules_loaded_by(code: str) -> list[str]:
    script = (
        f"import sys\nsys.path.insert(0, {str(RUNTIME)!r})\n{code}\n"
        "print(' '.join(sorted(name for name in sys.modules if name.startswith('uvicorn_gunicorn_runtime'))))\n"
    )
    done = subprocess.run([sys.executable, "-I", "-c", script], capture_output=True, text=True, check=True, timeout=60)
    return done.stdout.split()


@pytest.mark.parametrize(
    ("code", "modules"),
    [
        pytest.param(
            "from uvicorn_gunicorn_runtime import healthcheck\nhealthcheck.from_environment({'PORT': '8080'})",
            ["healthcheck", "binding", "environment"],
            id="health-check-without-a-record",
        ),
        pytest.param(
            "from uvicorn_gunicorn_runtime import access_log\naccess_log.flush_seconds()",
            ["access_log", "environment", "json_format"],
            id="a-workers-access-log",
        ),
    ],
)
def test_a_light_entry_point_loads_none_of_the_settings_stack(code: str, modules: list[str]) -> None:
    expected = sorted(["uvicorn_gunicorn_runtime", *(f"uvicorn_gunicorn_runtime.{name}" for name in modules)])
    assert _runtime_modules_loaded_by(code) == expected


def test_the_launcher_reads_package_metadata_only_for_a_virtual_environment() -> None:
    """importlib.metadata (and the email parser it brings) cost every start about 20 ms: the
    launcher's settings read no distribution's metadata unless the server runs in a virtual
    environment (see server_stack)."""
    script = (
        f"import sys\nsys.path.insert(0, {str(RUNTIME)!r})\n"
        "from uvicorn_gunicorn_runtime import launch, settings\n"
        "print('importlib.metadata' in sys.modules, 'uvicorn_gunicorn_runtime.server_stack' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-I", "-c", script], capture_output=True, text=True, check=True, timeout=60)
    assert done.stdout.split() == ["False", "False"]


def test_the_launcher_defines_its_values_without_dataclasses() -> None:
    """A frozen dataclass costs about 0.3 ms to define (its methods are generated and compiled
    at import) and the dataclasses module 0.4 ms more: the values the launcher reads at every
    start are NamedTuples. Measured with python3.11-slim's interpreter."""
    script = (
        f"import sys\nsys.path.insert(0, {str(RUNTIME)!r})\n"
        "from uvicorn_gunicorn_runtime import launch, settings\n"
        "print('dataclasses' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-I", "-c", script], capture_output=True, text=True, check=True, timeout=60)
    assert done.stdout.split() == ["False"]
