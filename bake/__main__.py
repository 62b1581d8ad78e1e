"""Command line of the build system: `python -m bake {generate,plan,build} ...`."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from datetime import date

import requests
from python_on_whales import DockerException

from bake.bases import BaseMode, base_available
from bake.build import BuildSettings, build
from bake.ca_bundle import CaBundleError, find_ca_bundle
from bake.debian_sources import MirrorError
from bake.describe import update_description
from bake.hcl import BAKE_FILE, render_bake_file
from bake.matrix import REPO_ROOT, Image, MatrixError, load_matrix, utc_today
from bake.merge import merge
from bake.publish import PublishError, plan_publication, publish
from bake.readme import README, ReadmeError, with_tag_sections
from bake.selection import SelectionError, select
from bake.standin import StandinError
from bake.tags import TagError, image_references, validate_date

DEFAULT_IMAGE_NAME = "uvicorn-gunicorn"


class UsageError(ValueError):
    """A command-line setting has a value no command accepts."""


USER_ERRORS = (
    CaBundleError,
    MatrixError,
    MirrorError,
    PublishError,
    ReadmeError,
    SelectionError,
    StandinError,
    TagError,
    UsageError,
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bake", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    describe = commands.add_parser("describe", help="set a Docker Hub repository's description to the README")
    describe.add_argument("repository", help="namespace/name on Docker Hub")
    describe.add_argument(
        "--api", default=os.environ.get("DOCKERHUB_API"), help="the Hub API's base URL (env DOCKERHUB_API)"
    )

    generate = commands.add_parser("generate", help="write docker-bake.hcl from images/matrix.toml")
    generate.add_argument("--check", action="store_true", help="only check that docker-bake.hcl is up to date")

    for name, help_text in (
        ("plan", "print what a build would make"),
        ("build", "build and load images"),
        ("select", "print the selected tags, one a line"),
        ("publish", "push the built and tested images to a registry"),
        ("merge", "merge single-platform images, pushed by digest, into one multi-platform tag"),
    ):
        command = commands.add_parser(name, help=help_text)
        command.add_argument("tags", nargs="*", metavar="TAG", help="tags to act on (default: all)")
        command.add_argument(
            "--image-name",
            default=os.environ.get("IMAGE_NAME") or DEFAULT_IMAGE_NAME,
            help="repository of the tags, with any registry prefix (env IMAGE_NAME; default %(default)s)",
        )
        command.add_argument(
            "--date",
            default=os.environ.get("DATE") or utc_today().isoformat(),
            help="date of the date tags, YYYY-MM-DD (env DATE; default today, UTC)",
        )
        command.add_argument(
            "--base",
            default=os.environ.get("BASE") or BaseMode.AUTO.value,
            help="base images: auto, official or standin (env BASE; default %(default)s)",
        )
        if name == "select":
            command.add_argument("--buildable", action="store_true", help="only tags whose base can be had here")
        if name == "merge":
            command.add_argument("--to", required=True, help="repository of the merged tags")
            command.add_argument(
                "--source", action="append", required=True, help="an image by digest: repository@sha256:... (repeat)"
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


def _generate(check: bool) -> int:
    matrix = load_matrix()
    readme = README.read_text()
    stale = 0
    for path, current, rendered in (
        (BAKE_FILE, BAKE_FILE.read_text() if BAKE_FILE.exists() else "", render_bake_file(matrix)),
        (README, readme, with_tag_sections(readme, matrix)),
    ):
        if rendered == current:
            print(f"{path.name} is up to date")
        elif check:
            print(f"error: {path.name} is out of date with images/matrix.toml; run: nox -s generate")
            stale += 1
        else:
            path.write_text(rendered)
            print(f"wrote {path.name}")
    return 1 if stale else 0


def plan_line(image: Image, image_name: str, build_date: str) -> str:
    offline = f"stand-in from Debian {image.debian.name}" if image.debian else "needs a registry"
    return (
        f"{image.target}: base {image.official_base} (offline: {offline}); platforms {', '.join(image.platforms)}; "
        f"tags {', '.join(image_references(image, image_name, build_date))}"
    )


def base_mode(value: str) -> BaseMode:
    try:
        return BaseMode(value)
    except ValueError:
        raise UsageError(f"BASE={value!r} is not one of {', '.join(mode.value for mode in BaseMode)}") from None


def _plan(args: argparse.Namespace, images: list[Image], build_date: str) -> int:
    for image in images:
        print(plan_line(image, args.image_name, build_date))
    return 0


def _select(args: argparse.Namespace, images: list[Image], build_date: str) -> int:
    mode = base_mode(args.base)
    for image in images:
        if not args.buildable or base_available(image, mode):
            print(image.tag)
    return 0


def _build(args: argparse.Namespace, images: list[Image], build_date: str) -> int:
    settings = BuildSettings(args.image_name, build_date, base_mode(args.base), find_ca_bundle())
    left_out = build(images, settings)
    return 2 if left_out and args.tags else 0  # a tag asked for by name could not be built


def _publish(args: argparse.Namespace, images: list[Image], build_date: str) -> int:
    publications = [plan_publication(image, args.image_name, args.to, build_date) for image in images]
    for image, publication in zip(images, publications, strict=True):
        publish(publication, image.platforms, args.dry_run)
    return 0


def _merge(args: argparse.Namespace, images: list[Image], build_date: str) -> int:
    if len(images) != 1:
        raise UsageError("merge takes exactly one tag")
    merge(images[0], args.to, build_date, args.source)
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


COMMANDS = {"plan": _plan, "select": _select, "build": _build, "publish": _publish, "merge": _merge}


def reporting_errors(command: Callable[[], int], more_user_errors: tuple[type[Exception], ...] = ()) -> int:
    """Runs `command`; a user's mistake or a failed docker call becomes one line on stderr and an exit code."""
    user_errors: tuple[type[Exception], ...] = (*USER_ERRORS, *more_user_errors)
    try:
        return command()
    except user_errors as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except DockerException as error:
        print(
            f"error: `{' '.join(error.docker_command[:4])} ...` failed with exit code {error.return_code}",
            file=sys.stderr,
        )
        return 1


def _run(args: argparse.Namespace) -> int:
    if args.command == "generate":
        return _generate(args.check)
    if args.command == "describe":
        return _describe(args)
    build_date = validate_date(args.date)
    images = select(load_matrix(date.fromisoformat(build_date)), args.tags)
    return COMMANDS[args.command](args, images, build_date)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    os.chdir(REPO_ROOT)  # bake resolves the build context against the working directory
    return reporting_errors(lambda: _run(args))


if __name__ == "__main__":
    sys.exit(main())
