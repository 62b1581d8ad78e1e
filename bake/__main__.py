"""`python -m bake COMMAND [ARGS]`: the build system's command line. Every nox session of the
build system runs one of these commands with the session's arguments as they are; each
command's options are defined here, once (`python -m bake COMMAND --help`)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from bake import commands
from bake.core.settings import add_date_option, add_setting_options, settings_of
from bake.engine.failures import reporting_failures
from bake.engine.platforms import UNAME_MACHINE
from bake.errors import UsageError
from bake.options import OptionParser, pass_on_flag, pass_on_value
from bake.paths import REPO_ROOT
from bake.progress import emit

PROG = "python -m bake"
Options = Callable[[OptionParser], None]


def _tags(parser: OptionParser) -> None:
    parser.add_argument("tags", nargs="*", metavar="TAG", help="tags to act on (default: all)")


def _platform(parser: OptionParser, required: bool = False) -> None:
    parser.add_argument(
        "--platform",
        required=required,
        choices=sorted(UNAME_MACHINE),
        help="only this platform (a native runner's); default: every platform of the tag",
    )


def _to(parser: OptionParser, default: str | None = None) -> None:
    parser.add_argument(
        "--to", default=default, required=default is None, help="repository to push to (publish: env PUBLISH_TO)"
    )


def _generate(parser: OptionParser) -> None:
    parser.add_argument("--check", action="store_true", help="only check that they are up to date")
    add_date_option(parser)


def _select(parser: OptionParser) -> None:
    _tags(parser)
    add_setting_options(parser)
    parser.add_argument("--buildable", action="store_true", help="only tags whose base can be had here")
    parser.add_argument("--quiet", action="store_true", help="only the tags: no notices about the matrix")


def _plan(parser: OptionParser) -> None:
    _tags(parser)
    add_setting_options(parser)


def _build(parser: OptionParser) -> None:
    _plan(parser)
    _platform(parser)


# The pytest options `nox -s test` takes before any `--`; after a `--`, pytest gets every word.
PYTEST_FLAGS = (("-x", "--exitfirst"), ("-v", "--verbose"), ("-q", "--quiet"), ("-s",), ("--lf", "--last-failed"),
                ("--ff", "--failed-first"), ("--co", "--collect-only"), ("--pdb",), ("--native-only",))  # fmt: skip
PYTEST_VALUES = (("-k",), ("-m",), ("--maxfail",), ("-r",), ("--tb",), ("--durations",))


def _test(parser: OptionParser) -> None:
    _tags(parser)
    add_setting_options(parser)
    parser.add_argument("--all-platforms", action="store_true", help="every test on every platform of each tag")
    parser.add_argument(
        "--platform",
        dest="platforms",
        action="append",
        default=[],
        choices=sorted(UNAME_MACHINE),
        help="build and test only this platform (repeatable); default: every platform of the tag",
    )
    for flag in PYTEST_FLAGS:
        pass_on_flag(parser, *flag)
    for option in PYTEST_VALUES:
        pass_on_value(parser, *option)


def _publish(parser: OptionParser) -> None:
    _tags(parser)
    add_setting_options(parser)
    _to(parser, os.environ.get("PUBLISH_TO") or None)
    parser.add_argument("--dry-run", action="store_true", help="print what would be pushed; push nothing")


def _digests(parser: OptionParser, repeated: bool) -> None:
    parser.add_argument(
        "--digests",
        required=True,
        type=Path,
        action="append" if repeated else "store",
        help="JSON file {name: repository@sha256:...} that stage writes and merge reads (merge: one per platform)",
    )


def _stage(parser: OptionParser) -> None:
    _tags(parser)
    add_setting_options(parser)
    _platform(parser, required=True)
    _to(parser)
    _digests(parser, repeated=False)


def _merge(parser: OptionParser) -> None:
    _tags(parser)
    add_date_option(parser)
    _to(parser)
    _digests(parser, repeated=True)


def _describe(parser: OptionParser) -> None:
    parser.add_argument("repository", help="namespace/name on Docker Hub")
    parser.add_argument(
        "--api", default=os.environ.get("DOCKERHUB_API"), help="the Hub API's base URL (env DOCKERHUB_API)"
    )


@dataclass(frozen=True)
class CommandSpec:
    summary: str
    options: Options
    run: commands.Command
    pass_through: str | None = None


COMMANDS: dict[str, CommandSpec] = {
    "generate": CommandSpec("write docker-bake.hcl and the README's tag sections", _generate, commands.run_generate),
    "plan": CommandSpec("print what a build would make", _plan, commands.run_plan),
    "select": CommandSpec("print the selected tags, one a line", _select, commands.run_select),
    "build": CommandSpec("build and load images", _build, commands.run_build),
    "test": CommandSpec("build the tags and run the image tests on them", _test, commands.run_test, "pytest"),
    "publish": CommandSpec(
        "build, test, then push the tested images with their date tags, signed", _publish, commands.run_publish
    ),
    "stage": CommandSpec(
        "on a native runner: build and test one platform, push it by digest for a merge", _stage, commands.run_stage
    ),
    "merge": CommandSpec("merge the staged platforms into one signed index per tag", _merge, commands.run_merge),
    "describe": CommandSpec(
        "set a Docker Hub repository's description to the README", _describe, commands.run_describe
    ),
}


def command_parser(name: str) -> OptionParser:
    spec = COMMANDS[name]
    parser = OptionParser(f"{PROG} {name}", spec.summary, spec.pass_through)
    spec.options(parser)
    return parser


def _usage() -> str:
    listed = "".join(f"\n  {name:<10} {spec.summary}" for name, spec in COMMANDS.items())
    return f"usage: {PROG} COMMAND [ARGS] ({PROG} COMMAND --help)\ncommands:{listed}"


def parse(argv: Sequence[str]) -> tuple[str, argparse.Namespace]:
    if not argv:
        raise UsageError(_usage().replace("\n", "; "))
    name, *words = argv
    if name not in COMMANDS:
        raise UsageError(f"{PROG}: unknown command {name!r} (commands: {', '.join(COMMANDS)})")
    return name, command_parser(name).parse(words)


def run(argv: Sequence[str]) -> int:
    name, args = parse(argv)
    settings = settings_of(args)  # one build date for every step, even across midnight
    os.chdir(REPO_ROOT)  # bake resolves the build context against the working directory
    return COMMANDS[name].run(args, settings)


def main(argv: Sequence[str] | None = None) -> int:
    words = sys.argv[1:] if argv is None else list(argv)
    if words[:1] in (["-h"], ["--help"]):
        emit(_usage())
        return 0
    return reporting_failures(lambda: run(words))


if __name__ == "__main__":
    sys.exit(main())
