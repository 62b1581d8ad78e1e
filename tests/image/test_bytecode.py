"""No start compiles the image's Python: every module the server imports until it answers, from
the standard library, site-packages or the runtime, comes with bytecode valid for it.

The official python images ship no bytecode (their build deletes it; the stand-in bases leave it
out alike) and the image sets PYTHONDONTWRITEBYTECODE, so a module without it is compiled again
at every start: for the standard library, some 200 ms a start. Only the application's own files
and the configuration file, which the image cannot know in advance, may compile."""

from __future__ import annotations

import json
import re

import pytest

from tests.conftest import ImageUnderTest
from tests.image.server import serve

# Python's verbose import trace: a module compiled from its source names the source file; one
# loaded from bytecode names the .pyc file, quoted.
COMPILED = re.compile(r"^# code object from (/\S+\.py)$", re.MULTILINE)
FROM_BYTECODE = re.compile(r"^# code object from '/\S+\.pyc'$", re.MULTILINE)
# The image's own Python: its libraries, read by the interpreter itself (-E: no verbose trace).
_LIBRARIES = (
    "import json, sysconfig; names = ('stdlib', 'platstdlib', 'purelib', 'platlib'); "
    "print(json.dumps(sorted({sysconfig.get_path(name) + '/' for name in names})))"
)
RUNTIME = "/usr/local/lib/uvicorn-gunicorn/"


@pytest.mark.every_platform
def test_a_start_compiles_nothing_of_the_images_python(image: ImageUnderTest, platform: str) -> None:
    with serve(image.image_id, platform, env={"PYTHONVERBOSE": "1"}) as server:
        libraries = (*json.loads(server.run("python", "-E", "-c", _LIBRARIES)), RUNTIME)
        trace = server.logs()
    assert len(FROM_BYTECODE.findall(trace)) > 100, "no verbose import trace in the logs"
    compiled = sorted(set(COMPILED.findall(trace)))
    assert "/app/main.py" in compiled  # the application's own file: no bytecode, as expected
    assert [path for path in compiled if path.startswith(libraries)] == []
