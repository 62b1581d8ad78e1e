"""Builds images of the matrix with `docker buildx bake` and loads them into the engine."""

from __future__ import annotations

import contextlib
import json
import tempfile
import uuid
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from python_on_whales import docker

from bake.core.base_digest import current_digest
from bake.core.matrix import Image
from bake.core.naming import image_references, reference_strings
from bake.core.retirement import GENERATE_COMMAND
from bake.core.selection import with_bases
from bake.core.settings import BaseMode, Settings
from bake.engine.bases import Base, choose_base
from bake.engine.build_context import FILE_TIME, reproducible_context
from bake.engine.hcl import BakeFileError, bake_targets
from bake.engine.image_metadata import (
    REQUIREMENTS,
    SourceFacts,
    describe,
    image_labels,
    index_annotations,
    source_facts,
)
from bake.engine.sbom_generator import ensure_generator
from bake.engine.standin import NeedsRegistry
from bake.paths import BAKE_FILE
from bake.progress import say


@dataclass(frozen=True)
class BuildSettings:
    image_name: str
    build_date: str
    base_mode: BaseMode
    ca_bundle: Path

    @classmethod
    def of(cls, settings: Settings, ca_bundle: Path) -> BuildSettings:
        return cls(settings.image_name, settings.date_tag, settings.base_mode, ca_bundle)

    @property
    def variables(self) -> dict[str, str]:
        return {"CA_BUNDLE": str(self.ca_bundle)}


@dataclass(frozen=True)
class BakeInputs:
    files: list[str | Path]  # the bake file, then the file merged over it
    variables: dict[str, str]


@dataclass
class BasePlan:
    """The images whose base is at hand (bootstrapped if need be), and why others are left out."""

    buildable: list[Image] = field(default_factory=list)
    base_overrides: dict[str, str] = field(default_factory=dict)
    left_out: list[str] = field(default_factory=list)
    bases: list[str] = field(default_factory=list)  # of the buildable images, in order


def _base_or_reason(image: Image, mode: BaseMode) -> Base | NeedsRegistry:
    try:
        return choose_base(image, mode)
    except NeedsRegistry as reason:
        return reason


def plan_bases(images: Sequence[Image], mode: BaseMode) -> BasePlan:
    """The base images' bases, chosen; a flavor is buildable where its base image is."""
    plan = BasePlan()
    base_images = [image for image in images if image.flavor is None]
    # Bases are chosen side by side so that stand-in bootstraps for different images share the cores.
    with ThreadPoolExecutor(max_workers=max(len(base_images), 1)) as pool:
        bases = list(pool.map(lambda image: _base_or_reason(image, mode), base_images))
    for image, base in zip(base_images, bases, strict=True):
        if isinstance(base, NeedsRegistry):
            say(f"left out: {base}")
            plan.left_out.append(str(base))
            continue
        digest = current_digest(base.reference)
        say(f"base of {image.tag}: {base.reference} ({digest or 'digest unknown'}) -- {base.why}")
        plan.base_overrides.update(_base_args(image.target, base.reference, digest))
        if digest:  # the image records the index it was built on
            plan.base_overrides[f"{image.target}.args.BASE_DIGEST"] = digest
        plan.buildable.append(image)
        plan.bases.append(base.reference)
    flavors = [image for image in images if image.flavor and image.base_image in plan.buildable]
    for flavor in flavors:  # its framework stage starts FROM the python base of its tag
        python_base = plan.bases[plan.buildable.index(flavor.base_image)]
        plan.base_overrides.update(_base_args(flavor.target, python_base, current_digest(python_base)))
    plan.buildable += flavors
    return plan


def _base_args(target: str, base: str, digest: str | None) -> dict[str, str]:
    """BASE_IMAGE, and BASE_PIN where the base comes from a registry: FROM takes exactly that index."""
    pinned = digest is not None and not docker.image.exists(base)
    return {f"{target}.args.BASE_IMAGE": base, **({f"{target}.args.BASE_PIN": digest} if pinned and digest else {})}


def reproducible_args(facts: SourceFacts) -> dict[str, str]:
    """The build arguments of a reproducible build: the files' time in every layer, and the
    commit's time, which BuildKit gives the image's config and history."""
    epoch = {"SOURCE_DATE_EPOCH": str(facts.epoch)} if facts.epoch is not None else {}
    return {"FILE_TIME": str(FILE_TIME), **epoch}


def targets_override(
    images: Sequence[Image], settings: BuildSettings, facts: SourceFacts | None = None, context: Path | None = None
) -> dict[str, Any]:
    """A bake definition that gives each target its tags (docker-bake.hcl has none: they are
    composed in bake/core/reference.py alone), those of the build date's matrix whatever date the
    file was generated for (`latest` is where the matrix of that day puts it), and the image's
    platforms (one alone, on a native runner); with `facts`, its OCI labels, the index
    annotations that repeat them and the arguments of a reproducible build; with `context`,
    that build context."""
    requirements = REQUIREMENTS.read_text()
    targets: dict[str, Any] = {}
    for image in images:
        target: dict[str, Any] = {
            "tags": reference_strings(image_references(image, settings.image_name, settings.build_date)),
            "platforms": list(image.platforms),
        }
        if facts is not None:
            labels = image_labels(image, facts, requirements)
            target |= {"labels": labels, "annotations": index_annotations(labels), "args": reproducible_args(facts)}
        if context is not None:
            target["context"] = str(context)
        targets[image.target] = target
    return {"target": targets}


@contextlib.contextmanager
def _bake_files(plan: BasePlan, settings: BuildSettings, bake_file: Path) -> Iterator[BakeInputs]:
    """`bake_file` and, merged over it, a file of the tags, platforms, labels and build
    arguments, the context being the files of the tree `bake_file` is in (the checkout, or the
    bench's changed copy) dated alike (see build_context); and the bake file's variables.
    Lists cannot go through `--set`: bake takes one tag per `--set`, and python-on-whales
    passes one `--set` per field."""
    facts = source_facts()
    describe(facts)
    variables = {**settings.variables, "SBOM_GENERATOR": ensure_generator(plan.bases[0], facts.epoch)}
    with (
        tempfile.TemporaryDirectory(prefix="bake-targets-") as directory,
        reproducible_context(bake_file.parent) as context,
    ):
        targets_file = Path(directory) / "targets.json"
        targets_file.write_text(json.dumps(targets_override(plan.buildable, settings, facts, context), indent=2))
        yield BakeInputs([bake_file, targets_file], variables)


def _bake(plan: BasePlan, inputs: BakeInputs, overrides: Mapping[str, str] | None = None, **options: Any) -> Any:
    """Bakes and loads the plan's buildable images, each with its SBOM; `overrides` are more
    of bake's --set, `options` go to buildx bake as they are."""
    return docker.buildx.bake(
        targets=[image.target for image in plan.buildable],
        files=inputs.files,
        load=True,
        set={**plan.base_overrides, **(overrides or {})},
        variables=inputs.variables,
        **options,
    )


def own_cache_keys(images: Sequence[Image], key: str) -> dict[str, str]:
    """Overrides that put every image's pip steps, and so all its layers after them, under cache
    keys of their own (a flavor's framework stage starts from the python base, not from its
    tag's image, so it needs its own). A build without the cache under the usual keys would leave
    records that later cached builds take for the base, while a cached flavor still sits on the
    layers of the earlier records: a flavor and the base built beside it would no longer share
    their layers."""
    return {f"{image.target}.args.PIP_REFRESH": key for image in images}


def bake_streaming(
    plan: BasePlan,
    settings: BuildSettings,
    use_cache: bool = True,
    bake_file: Path = BAKE_FILE,
    cache_key: str | None = None,
) -> Iterator[str]:
    """Bakes the plan's images with plain progress, yielding each line of the build log.
    The build context is the files of the tree `bake_file` is in, dated (see build_context).
    Without the cache, the images run under cache keys of their own (see own_cache_keys):
    `cache_key`, or a new one; a later build given the same `cache_key` reuses that build's
    layers."""
    key = cache_key or (None if use_cache else uuid.uuid4().hex)
    overrides = own_cache_keys(plan.buildable, key) if key else {}
    with _bake_files(plan, settings, bake_file) as inputs:
        lines = _bake(plan, inputs, overrides, cache=use_cache, progress="plain", stream_logs=True)
        assert not isinstance(lines, dict)
        yield from lines


def check_targets(images: Sequence[Image], bake_file: Path = BAKE_FILE) -> None:
    """Every image has its target in `bake_file`, which may predate an edit of the matrix."""
    defined = bake_targets(bake_file.read_text()) if bake_file.exists() else set()
    missing = [image.target for image in images if image.target not in defined]
    if missing:
        raise BakeFileError(f"{bake_file.name} has no target {', '.join(missing)}; run: {GENERATE_COMMAND}")


def build(images: Sequence[Image], settings: BuildSettings) -> list[str]:
    """Builds what it can of `images`; returns one line for each image it had to leave out."""
    images = with_bases(images)
    check_targets(images)
    plan = plan_bases(images, settings.base_mode)
    if not plan.buildable:
        return plan.left_out
    with _bake_files(plan, settings, BAKE_FILE) as inputs:
        _bake(plan, inputs)
    for image in plan.buildable:
        references = reference_strings(image_references(image, settings.image_name, settings.build_date))
        image_id = docker.image.inspect(references[0]).id
        say(f"built {', '.join(references)} for {', '.join(image.platforms)}: {image_id}")
    return plan.left_out
