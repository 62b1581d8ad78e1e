"""Command line of the build system: `python -m bake {generate,plan,build} ...`."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import requests

from bake.bases import base_available
from bake.build import BuildSettings, build
from bake.ca_bundle import find_ca_bundle
from bake.describe import update_description
from bake.generated import COMMITTED_FILES, generate, generated_matrix
from bake.matrix import REPO_ROOT, Image, Matrix, load_matrix
from bake.merge import merge_all, plan_merge, sources_by_tag
from bake.platforms import UNAME_MACHINE
from bake.publish import plan_publication, publish, stage
from bake.readme import README
from bake.reference import image_references, reference_strings
from bake.reporting import UsageError, reporting_errors
from bake.retirement import latest_line, nothing_left_line, retired_lines, stale_line
from bake.selection import Selection, select_current
from bake.settings import DEFAULT_IMAGE_NAME, Settings, settings_from_environment


def _date_option(command: argparse.ArgumentParser, meaning: str) -> None:
    command.add_argument("--date", help=f"{meaning}, YYYY-MM-DD (env DATE; default today, UTC)")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bake", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    describe = commands.add_parser("describe", help="set a Docker Hub repository's description to the README")
    describe.add_argument("repository", help="namespace/name on Docker Hub")
    describe.add_argument(
        "--api", default=os.environ.get("DOCKERHUB_API"), help="the Hub API's base URL (env DOCKERHUB_API)"
    )

    generate = commands.add_parser("generate", help="write docker-bake.hcl and the README's tag sections")
    generate.add_argument("--check", action="store_true", help="only check that they are up to date")
    _date_option(generate, "the date whose matrix they hold")

    for name, help_text in (
        ("plan", "print what a build would make"),
        ("build", "build and load images"),
        ("select", "print the selected tags, one a line"),
        ("publish", "push the built and tested images to a registry, signed (COSIGN_KEY, or keyless in CI)"),
        ("stage", "push built and tested single-platform images by digest, for a merge"),
        ("merge", "merge the staged single-platform images into one multi-platform index per tag"),
    ):
        command = commands.add_parser(name, help=help_text)
        command.add_argument("tags", nargs="*", metavar="TAG", help="tags to act on (default: all)")
        command.add_argument(
            "--image-name",
            help=f"repository of the tags, with any registry prefix (env IMAGE_NAME; default {DEFAULT_IMAGE_NAME})",
        )
        _date_option(command, "the build date: of the date tags, and whose matrix is built")
        command.add_argument(
            "--base",
            help="base images: auto, official or standin (env BASE; default auto)",
        )
        command.add_argument(
            "--quiet",
            action="store_true",
            help="leave out the lines about retired versions and generated files (another command says them)",
        )
        if name == "select":
            command.add_argument("--buildable", action="store_true", help="only tags whose base can be had here")
        if name in ("build", "stage"):
            command.add_argument(
                "--platform",
                required=name == "stage",
                choices=sorted(UNAME_MACHINE),
                help="only this platform (a native runner's); default: every platform of the tag",
            )
        if name in ("stage", "merge"):
            command.add_argument("--to", required=True, help="repository of the staged or merged images")
            command.add_argument(
                "--digests",
                required=True,
                type=Path,
                action="append" if name == "merge" else "store",
                help=(
                    "JSON file {name: repository@sha256:...} that stage writes and merge reads (merge: one per "
                    "platform, repeat)"
                ),
            )
        if name == "publish":
            command.add_argument(
                "--to",
                default=os.environ.get("PUBLISH_TO") or None,
                required=not os.environ.get("PUBLISH_TO"),
                help="repository to push to, such as docker.io/acme/uvicorn-gunicorn (env PUBLISH_TO)",
            )
            command.add_argument("--dry-run", action="store_true", help="print what would be pushed; push nothing")
    return parser


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


def _plan(args: argparse.Namespace, images: list[Image], settings: Settings) -> int:
    for image in images:
        print(plan_line(image, settings))
    return 0


def _select(args: argparse.Namespace, images: list[Image], settings: Settings) -> int:
    for image in images:
        if not args.buildable or base_available(image, settings.base_mode):
            print(image.name)
    return 0


def _on_platform(images: list[Image], platform: str | None) -> list[Image]:
    return [replace(image, platforms=(platform,)) for image in images] if platform else images


def _build(args: argparse.Namespace, images: list[Image], settings: Settings) -> int:
    images = _on_platform(images, args.platform)
    left_out = build(images, BuildSettings.of(settings, find_ca_bundle()))
    return 2 if left_out and args.tags else 0  # a tag asked for by name could not be built


def _publish(args: argparse.Namespace, images: list[Image], settings: Settings) -> int:
    publications = [plan_publication(image, settings.image_name, args.to, settings.date_tag) for image in images]
    publish(publications, args.dry_run)
    return 0


def _stage(args: argparse.Namespace, images: list[Image], settings: Settings) -> int:
    publications = [
        plan_publication(image, settings.image_name, args.to, settings.date_tag)
        for image in _on_platform(images, args.platform)
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


def _merge(args: argparse.Namespace, images: list[Image], settings: Settings) -> int:
    sources = sources_by_tag([_read_digests(path) for path in args.digests])
    if not args.tags:  # every tag the runners staged, not every tag of the matrix
        images = [image for image in images if image.name in sources]
    missing = [image.name for image in images if image.name not in sources]
    if missing or not images:
        raise UsageError(f"no staged images of {', '.join(missing) or 'any tag'} in the --digests files")
    merge_all([plan_merge(image, args.to, sources[image.name]) for image in images], settings.date_tag)
    return 0


def _describe(args: argparse.Namespace) -> int:
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


COMMANDS = {
    "plan": _plan,
    "select": _select,
    "build": _build,
    "publish": _publish,
    "stage": _stage,
    "merge": _merge,
}


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


def _run(args: argparse.Namespace) -> int:
    if args.command == "describe":
        return _describe(args)
    settings = settings_from_environment().overridden(
        getattr(args, "image_name", None), args.date, getattr(args, "base", None)
    )
    if args.command == "generate":
        return generate(settings.build_date, args.check, COMMITTED_FILES)
    matrix = load_matrix(settings.build_date)
    selection = select_current(matrix, args.tags)
    if not args.quiet:
        for line in notices(matrix, selection):
            print(line, file=sys.stderr, flush=True)
    if not selection.images:
        return 0
    return COMMANDS[args.command](args, selection.images, settings)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    os.chdir(REPO_ROOT)  # bake resolves the build context against the working directory
    return reporting_errors(lambda: _run(args))


if __name__ == "__main__":
    sys.exit(main())
