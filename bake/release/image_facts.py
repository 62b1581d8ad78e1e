"""What an image holds, asked of the image itself: the versions an SBOM of it must list."""

from __future__ import annotations

import json

from python_on_whales import docker

from bake.release.attestations import REQUIRED_DISTRIBUTIONS

# Runs in the image: the interpreter's package (dpkg's, when dpkg installed the executable;
# else `python`, the name an SBOM gives a self-built interpreter) and the distributions' versions.
PROBE = """
import importlib.metadata, json, os, platform, subprocess, sys
executable = os.path.realpath(sys.executable)
def dpkg(*args):
    try:
        result = subprocess.run(["dpkg-query", *args], capture_output=True, text=True)
    except FileNotFoundError:
        return ""
    return result.stdout.strip() if result.returncode == 0 else ""
owner = dpkg("-S", executable).split(":")[0]
interpreter = (owner, dpkg("-W", "-f=${Version}", owner)) if owner else ("python", platform.python_version())
print(json.dumps({interpreter[0]: interpreter[1], **{name: importlib.metadata.version(name) for name in sys.argv[1:]}}))
"""


def expected_packages(source: str, platform: str) -> dict[str, str]:
    """{package: version} of the interpreter and the server stack in `source` on `platform`."""
    output = docker.run(
        source, ["python3", "-c", PROBE, *REQUIRED_DISTRIBUTIONS], platform=platform, pull="never", remove=True
    )
    found: dict[str, str] = json.loads(str(output))
    return found
