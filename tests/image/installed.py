"""What pip installed in an image, read inside it: each distribution's version, and every file its
RECORD lists checked (present, with its hash; each source in site-packages with its bytecode, valid
for it, so that no start compiles it again: pip installs without compiling, so RECORD does not list
the bytecode). The packages are installed by another CPU's pip (images/native_install.py):
this is what says they landed where and as pip on the target would have put them."""

from __future__ import annotations

import json
from dataclasses import dataclass

from python_on_whales import docker

from bake.core.locks import BASE_OWN, locked, normalized

# Run by the image's own interpreter. A timestamp .pyc is valid when it records its source's
# mtime and size; a hash-based one, when it records the hash of its source.
_READ = r"""
import base64, hashlib, importlib.metadata, importlib.util, json, os
def stale(source, data):
    status = os.stat(source)
    if int.from_bytes(data[4:8], "little") & 1:
        return data[8:16] != importlib.util.source_hash(open(source, "rb").read())
    stamp = (int(status.st_mtime) & 0xFFFFFFFF, status.st_size & 0xFFFFFFFF)
    return (int.from_bytes(data[8:12], "little"), int.from_bytes(data[12:16], "little")) != stamp
found = {}
for distribution in importlib.metadata.distributions():
    faults = []
    for file in distribution.files or []:
        path = os.path.normpath(str(distribution.locate_file(file)))
        if not os.path.isfile(path):
            faults.append(f"missing {path}")
            continue
        data = open(path, "rb").read()
        if file.hash is not None:
            digest = hashlib.new(file.hash.mode, data).digest()
            if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != file.hash.value:
                faults.append(f"hash of {path}")
        if path.endswith(".pyc"):
            source = importlib.util.source_from_cache(path)
            if os.path.isfile(source) and stale(source, data):
                faults.append(f"stale bytecode {path}")
        if path.endswith(".py") and "/site-packages/" in path:
            cached = importlib.util.cache_from_source(path)
            if not os.path.isfile(cached):
                faults.append(f"no bytecode for {path}")
            elif stale(path, open(cached, "rb").read()):
                faults.append(f"stale bytecode {cached}")
        if "/bin/" in path and data.startswith(b"#!"):
            interpreter = data[2:].split(b"\n", 1)[0].split()[0].decode()
            if not os.access(interpreter, os.X_OK):
                faults.append(f"{path} runs {interpreter}, not there")
    found[distribution.metadata["Name"]] = {"version": distribution.version, "faults": faults}
print(json.dumps(found))
"""


@dataclass(frozen=True)
class Installed:
    # Both leave out the base image's own distributions (pip ...): the image compiles none of the
    # packaging tools (images/base_bytecode.py), and a base's RECORD is its own concern.
    versions: dict[str, str]  # normalized name -> version
    faults: dict[str, list[str]]  # of each distribution with any


def installed(image_id: str, platform: str) -> Installed:
    found = json.loads(str(docker.run(image_id, ["python", "-c", _READ], platform=platform, remove=True)))
    own = {normalized(name): entry for name, entry in found.items() if normalized(name) not in BASE_OWN}
    faults = {name: entry["faults"] for name, entry in own.items() if entry["faults"]}
    return Installed({name: entry["version"] for name, entry in own.items()}, faults)


def pins_of(*locks: str) -> dict[str, str]:
    return {name: version for text in locks for name, version in locked(text).items()}
