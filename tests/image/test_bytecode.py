"""No start compiles anything of the image's Python: every module the server imports until it
answers, from the standard library, site-packages or the runtime, comes with bytecode valid for it.

The official python images ship no bytecode (their build deletes it; the stand-in bases leave it
out alike) and the image sets PYTHONDONTWRITEBYTECODE, so a module without it is compiled again
at every start: for the standard library, some 200 ms a start. The application's own files, which
the image cannot know in advance, compile unless its Dockerfile compiles them (README's line)."""

from __future__ import annotations

import re

import pytest

from tests.conftest import PROBE_APP, ChildImages, ImageUnderTest
from tests.image.server import Server, serve

# Python's verbose import trace: a module compiled from its source names the source file; one
# loaded from bytecode names the .pyc file, quoted.
COMPILED = re.compile(r"^# code object from (/\S+\.py)$", re.MULTILINE)
FROM_BYTECODE = re.compile(r"^# code object from '/\S+\.pyc'$", re.MULTILINE)
# Python looks for the bytecode of a file in / relative to the working directory (its cache path
# loses the root), so Gunicorn's run of /gunicorn_conf.py (3 KB, 0.1 ms) always compiles it.
CONFIGURATION_FILE = "/gunicorn_conf.py"
# README's line for an application's Dockerfile, after its COPY.
COMPILE_THE_APPLICATION = "RUN python -m compileall -q /app\n"


def _compiled_at_start(server: Server) -> list[str]:
    """The source files the start compiled, once the server answers."""
    trace = server.logs()
    assert len(FROM_BYTECODE.findall(trace)) > 100, "no verbose import trace in the logs"
    return sorted(set(COMPILED.findall(trace)))


@pytest.mark.every_platform
def test_a_start_compiles_none_of_the_images_python(image: ImageUnderTest, platform: str) -> None:
    with serve(image.image_id, platform, env={"PYTHONVERBOSE": "1"}) as server:
        compiled = _compiled_at_start(server)
    assert "/app/main.py" in compiled  # the application's own file: no bytecode, as expected
    assert [path for path in compiled if not path.startswith("/app/")] == [CONFIGURATION_FILE]


def test_an_application_compiled_as_readme_says_is_not_compiled_at_start(
    child_images: ChildImages, platform: str
) -> None:
    image_id = child_images.build(platform, {"main.py": PROBE_APP}, dockerfile_tail=COMPILE_THE_APPLICATION)
    with serve(image_id, platform, env={"PYTHONVERBOSE": "1"}) as server:
        compiled = _compiled_at_start(server)
    assert compiled == [CONFIGURATION_FILE]
