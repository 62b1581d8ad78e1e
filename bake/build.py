"""Builds images of the matrix with `docker buildx bake` and loads them into the engine."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from python_on_whales import docker

from bake.bases import BaseMode, choose_base
from bake.hcl import BAKE_FILE
from bake.matrix import Image
from bake.standin import NeedsRegistry
from bake.tags import image_references


@dataclass(frozen=True)
class BuildSettings:
    image_name: str
    build_date: str
    base_mode: BaseMode
    ca_bundle: Path


def build(images: Sequence[Image], settings: BuildSettings) -> list[str]:
    """Builds what it can of `images`; returns one line for each image it had to leave out."""
    base_overrides: dict[str, str] = {}
    buildable: list[Image] = []
    left_out: list[str] = []
    for image in images:
        try:
            base = choose_base(image, settings.base_mode)
        except NeedsRegistry as reason:
            print(f"left out: {reason}", flush=True)
            left_out.append(str(reason))
            continue
        print(f"base of {image.tag}: {base.reference} -- {base.why}", flush=True)
        base_overrides[f"{image.target}.args.BASE_IMAGE"] = base.reference
        buildable.append(image)
    if not buildable:
        return left_out
    docker.buildx.bake(
        targets=[image.target for image in buildable],
        files=[BAKE_FILE],
        load=True,
        set=base_overrides,
        variables={
            "IMAGE_NAME": settings.image_name,
            "DATE": settings.build_date,
            "CA_BUNDLE": str(settings.ca_bundle),
        },
    )
    for image in buildable:
        references = image_references(image, settings.image_name, settings.build_date)
        image_id = docker.image.inspect(references[0]).id
        print(f"built {', '.join(references)} for {', '.join(image.platforms)}: {image_id}", flush=True)
    return left_out
