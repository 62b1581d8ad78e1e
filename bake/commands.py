"""What each command of `python -m bake` does, given its parsed arguments and the run's settings
(its options over the environment, one build date for every step). Progress goes to standard
error; what a command produces (a plan, a tag list, a digests file) to standard output or the
file named."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import requests

from bake.core.ca_bundle import find_ca_bundle
from bake.core.matrix import Image, Matrix, load_matrix
from bake.core.naming import image_references, reference_strings
from bake.core.retirement import latest_line, nothing_left_line, retired_lines, stale_line
from bake.core.selection import Selection, select_current, with_base_names
from bake.core.settings import Settings, environment_of
from bake.engine.bases import base_available
from bake.engine.build import BuildSettings, build
from bake.engine.generated import COMMITTED_FILES, generate, generated_matrix
from bake.errors import BakeError, UsageError
from bake.paths import IMAGE_TESTS, PIPELINE_TESTS, README, REPO_ROOT
from bake.progress import emit, say
from bake.release.describe import update_description
from bake.release.merge import merge_all, plan_merge, sources_by_tag
from bake.release.publish import plan_publication, publish, stage
from bake.release.signing import signer_from_environment

Command = Callable[[argparse.Namespace, Settings], int]


class TestsFailed(BakeError):
    """The image tests of a tag did not pass: nothing of it is published or staged."""

    exit_code = 1


def notices(matrix: Matrix, selection: Selection) -> list[str]:
    """What this run has to say about time having passed: versions retired since the generated
    files' date, where `latest` went, whether those files lag the calendar, named tags skipped."""
    generated = generated_matrix(COMMITTED_FILES)
    lines = [
        *retired_lines(matrix, generated.build_date if generated else None),
        latest_line(matrix),
        stale_line(generated, matrix, [file.name for file in COMMITTED_FILES]),
        *selection.skipped,
        None if selection.images else nothing_left_line(matrix),
    ]
    return [line for line in lines if line]


def _selected(tags: Sequence[str], settings: Settings, quiet: bool = False) -> list[Image]:
    matrix = load_matrix(settings.build_date)
    selection = select_current(matrix, tags)
    if not quiet:
        for line in notices(matrix, selection):
            say(line)
    return selection.images


def _on_platforms(images: list[Image], platforms: Sequence[str]) -> list[Image]:
    """The images narrowed to `platforms` (all of theirs when none is named)."""
    if not platforms:
        return images
    narrowed = [replace(image, platforms=tuple(p for p in image.platforms if p in platforms)) for image in images]
    missing = [image.name for image in narrowed if not image.platforms]
    if missing:
        raise BakeError(f"{', '.join(missing)}: not built for {', '.join(platforms)}")
    return narrowed


def plan_line(image: Image, settings: Settings) -> str:
    references = reference_strings(image_references(image, settings.image_name, settings.date_tag))
    if image.flavor:
        built_on = (
            f"flavor {image.flavor.name} ({', '.join(image.flavor.requirements)}) on target {image.base_image.target}"
        )
    else:
        offline = f"stand-in from Debian {image.debian.name}" if image.debian else "needs a registry"
        built_on = f"base {image.official_base} (offline: {offline})"
    return f"{image.target}: {built_on}; platforms {', '.join(image.platforms)}; tags {', '.join(references)}"


def run_generate(args: argparse.Namespace, settings: Settings) -> int:
    return generate(settings.build_date, args.check, COMMITTED_FILES)


def run_plan(args: argparse.Namespace, settings: Settings) -> int:
    for image in _selected(args.tags, settings):
        emit(plan_line(image, settings))
    return 0


def run_select(args: argparse.Namespace, settings: Settings) -> int:
    for image in _selected(args.tags, settings, args.quiet):
        if not args.buildable or base_available(image, settings.base_mode):
            emit(image.name)
    return 0


def _build(images: list[Image], settings: Settings, platforms: Sequence[str]) -> list[str]:
    return build(_on_platforms(images, platforms), BuildSettings.of(settings, find_ca_bundle()))


def run_build(args: argparse.Namespace, settings: Settings) -> int:
    images = _selected(args.tags, settings)
    left_out = _build(images, settings, [args.platform] if args.platform else []) if images else []
    return 2 if left_out and args.tags else 0  # a tag asked for by name could not be built


def _pytest(tag: str, scope: Sequence[str], pytest_args: Sequence[str], settings: Settings) -> None:
    environment = {**os.environ, **environment_of(settings), "TESTCONTAINERS_RYUK_DISABLED": "true"}
    command = [sys.executable, "-m", "pytest", str(IMAGE_TESTS), str(PIPELINE_TESTS), "-v", f"--tag={tag}"]
    result = subprocess.run([*command, *scope, *pytest_args], cwd=REPO_ROOT, env=environment, check=False)
    if result.returncode != 0:
        raise TestsFailed(f"the tests of {tag} failed (pytest exit code {result.returncode})")


def build_and_test(
    tags: Sequence[str],
    settings: Settings,
    pytest_args: Sequence[str] = (),
    platforms: Sequence[str] = (),
    all_platforms: bool = False,
) -> list[Image]:
    """Builds the named tags that are not retired (default: every tag whose base can be had
    here) and runs the image tests on each. A named tag, and the default slim tag, are tested on
    every platform (an emulated one runs the representative subset); any other, natively only;
    with `platforms`, only those are built, and each runs every test. Returns the images tested."""
    selected = _selected(tags, settings)
    chosen = selected if tags else [image for image in selected if base_available(image, settings.base_mode)]
    left_out = _build(chosen, settings, platforms) if chosen else []
    if left_out and tags:
        raise BakeError(f"not built, so not tested: {'; '.join(left_out)}")
    only = [f"--platform={platform}" for platform in platforms]
    for image in chosen:
        everywhere = bool(tags) or (image.is_default and image.variant == "slim")
        scope = only or (["--all-platforms"] if all_platforms else [] if everywhere else ["--native-only"])
        _pytest(image.name, scope, pytest_args, settings)
    return chosen


def run_test(args: argparse.Namespace, settings: Settings) -> int:
    build_and_test(args.tags, settings, args.passed_on, platforms=args.platforms, all_platforms=args.all_platforms)
    return 0


def run_publish(args: argparse.Namespace, settings: Settings) -> int:
    if not args.dry_run:
        signer_from_environment()  # before the build and the tests, not after them
    # A flavor is published only with its base, built and tested in the same run.
    chosen = build_and_test(with_base_names(args.tags), settings)
    if not chosen:
        say("nothing to publish")
        return 0
    publications = [plan_publication(image, settings.image_name, args.to, settings.date_tag) for image in chosen]
    publish(publications, args.dry_run)
    return 0


def run_stage(args: argparse.Namespace, settings: Settings) -> int:
    chosen = build_and_test(args.tags, settings, platforms=[args.platform])
    if not chosen:
        say("nothing to stage")
        return 0
    publications = [
        plan_publication(image, settings.image_name, args.to, settings.date_tag)
        for image in _on_platforms(chosen, [args.platform])
    ]
    # One line: the workflow hands it on as a job output.
    args.digests.write_text(json.dumps(stage(publications), sort_keys=True) + "\n")
    return 0


def _read_digests(path: Path) -> dict[str, str]:
    try:
        loaded = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise UsageError(f"--digests={str(path)!r} cannot be read: {error}") from None
    if not isinstance(loaded, dict) or not all(isinstance(value, str) for value in loaded.values()):
        raise UsageError(f"--digests={str(path)!r} is not a JSON object of tag: repository@sha256:...")
    return loaded


def run_merge(args: argparse.Namespace, settings: Settings) -> int:
    sources = sources_by_tag([_read_digests(path) for path in args.digests])
    images = _selected(args.tags, settings)
    if not args.tags:  # every tag the runners staged, not every tag of the matrix
        images = [image for image in images if image.name in sources]
    missing = [image.name for image in images if image.name not in sources]
    if missing or not images:
        raise UsageError(f"no staged images of {', '.join(missing) or 'any tag'} in the --digests files")
    merge_all([plan_merge(image, args.to, sources[image.name]) for image in images], settings.date_tag)
    return 0


def run_describe(args: argparse.Namespace, settings: Settings) -> int:
    credentials = {name: os.environ.get(name, "") for name in ("DOCKERHUB_USERNAME", "DOCKERHUB_TOKEN")}
    missing = [name for name, value in {"DOCKERHUB_API": args.api or "", **credentials}.items() if not value]
    if missing:
        raise UsageError(f"describe needs {', '.join(missing)} set")
    with requests.Session() as session:
        update_description(
            args.api,
            args.repository,
            credentials["DOCKERHUB_USERNAME"],
            credentials["DOCKERHUB_TOKEN"],
            README.read_text(),
            session,
        )
    return 0
