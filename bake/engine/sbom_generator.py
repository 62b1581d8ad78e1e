"""The SBOM generator image BuildKit runs on every build: bake/engine/sbom_scan on one of the run's
own bases, built here for the engine's platform and kept in the local image store.

The engine's default `docker` driver, with the containerd image store, runs a generator
image straight from the local store: it need not be in any registry.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from python_on_whales import docker

from bake.core.reference import ImageReference
from bake.engine.platforms import engine_platform
from bake.paths import SBOM_GENERATOR_DOCKERFILE, SBOM_SCANNER_DIR
from bake.progress import say

GENERATOR_REPOSITORY = "uvicorn-gunicorn-sbom-generator"
# Another generator for every build, such as BuildKit's own docker/buildkit-syft-scanner.
GENERATOR_ENV = "SBOM_GENERATOR"


def generator_key(base_id: str, files: list[Path], epoch: int | None = None) -> str:
    """What the generator image is made of: the program, its Dockerfile, the base image and the
    SOURCE_DATE_EPOCH it dates its documents by."""
    digest = hashlib.sha256(f"{base_id}\0{epoch or ''}".encode())
    for path in [*files, SBOM_GENERATOR_DOCKERFILE]:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


def ensure_generator(base: str, epoch: int | None = None) -> str:
    """The generator to use: SBOM_GENERATOR if set, else ours on `base` (built when missing),
    dating its documents `epoch` (SOURCE_DATE_EPOCH; None: the time of each scan)."""
    chosen = os.environ.get(GENERATOR_ENV)
    if chosen:
        say(f"SBOM generator: {chosen} ({GENERATOR_ENV})")
        return chosen
    files = sorted(SBOM_SCANNER_DIR.glob("*.py"))
    base_id = docker.image.inspect(base).id if docker.image.exists(base) else base
    reference = str(ImageReference(GENERATOR_REPOSITORY, generator_key(base_id, files, epoch)))
    if docker.image.exists(reference):
        say(f"SBOM generator: {reference}, up to date")
        return reference
    platform = engine_platform()
    docker.buildx.build(
        SBOM_SCANNER_DIR,
        file=SBOM_GENERATOR_DOCKERFILE,
        build_args={"BASE_IMAGE": base, "SOURCE_DATE_EPOCH": "" if epoch is None else str(epoch)},
        platforms=[platform],
        tags=[reference],
        load=True,
        progress=False,
    )
    say(f"SBOM generator: {reference}, built on {base} for {platform}")
    return reference
