"""`python -m devtools.bench [--short] [--only SECTION ...] [TAG]`: measure, then write
docs/benchmarks.{json,md,png} and, from the same results, README's Performance section."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from bake.core.ca_bundle import find_ca_bundle
from bake.core.matrix import load_matrix
from bake.core.selection import select
from bake.core.settings import Settings, add_setting_options, environment_of, settings_of
from bake.engine.build import BuildSettings, build
from bake.engine.failures import reporting_failures
from bake.engine.platforms import engine_platform
from bake.options import OptionParser
from bake.paths import DOCS, README, REPO_ROOT
from bake.progress import say
from devtools.bench.disk_room import check_room, engine_root, needed_gb
from devtools.bench.machine import describe_machine
from devtools.bench.original import REPOSITORY, SOURCES_VARIABLE, find_sources
from devtools.bench.report import write_readme_section, write_report
from devtools.bench.sections import FULL, NEEDS_EVERY_PLATFORM, NEEDS_FLAVOR, NEEDS_ORIGINAL, SECTIONS, SHORT, Bench
from devtools.bench.wrk import CONNECTIONS


def parser() -> OptionParser:
    parser = OptionParser("python -m devtools.bench", __doc__)
    parser.add_argument("tag", nargs="?", help="the tag measured (default: the default version's slim tag)")
    parser.add_argument(
        "--short",
        action="store_true",
        help="2 s loads in 3 rounds (not 5 s in 5), fewer start-ups, no cold matrix build",
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=list(SECTIONS),
        metavar="SECTION",
        help=f"run only this section (repeatable): {', '.join(SECTIONS)}",
    )
    parser.add_argument(
        "--original-sources",
        default=os.environ.get(SOURCES_VARIABLE),
        metavar="PATH",
        help=f"a clone of {REPOSITORY}, which startup-comparison builds (default: ${SOURCES_VARIABLE})",
    )
    parser.add_argument(
        "--output", type=Path, default=DOCS, help="where the report goes (default docs/, and then README's section too)"
    )
    parser.add_argument(
        "--baseline",
        metavar="REF",
        help="a commit whose build files (images/, common/, docker-bake.hcl) the whole family is also built with, "
        "cold and after a change to common/, beside this tree's (the build section; not with --short)",
    )
    add_setting_options(parser)
    return parser


def prepare(args: argparse.Namespace, run_settings: Settings, chosen: Sequence[str]) -> Bench:
    """The run's images built: the tag for every platform where a section needs them, else for
    this one; the flavor where a section measures it. The original's sources are found first."""
    original = find_sources(args.original_sources) if set(chosen) & set(NEEDS_ORIGINAL) else None
    matrix = load_matrix(run_settings.build_date)
    (image,) = (
        select(matrix, [args.tag]) if args.tag else [i for i in matrix.images if i.is_default and i.variant == "slim"]
    )
    settings = BuildSettings.of(run_settings, find_ca_bundle())
    bench = Bench(image, matrix, settings, SHORT if args.short else FULL, args.short, original, args.baseline)
    platforms = image.platforms if set(chosen) & set(NEEDS_EVERY_PLATFORM) else (engine_platform(),)
    built = [image, bench.flavor] if set(chosen) & set(NEEDS_FLAVOR) else [image]
    say(f"bench: building {', '.join(each.name for each in built)} for {', '.join(platforms)} (what the sections run)")
    build([replace(each, platforms=platforms) for each in built], bench.settings)
    return bench


def run_benchmarks(args: argparse.Namespace, run_settings: Settings) -> dict[str, Any]:
    chosen = [name for name in SECTIONS if not args.only or name in args.only]
    if args.only:
        left_out = [name for name in SECTIONS if name not in chosen]
        say(f"bench: a partial run: {', '.join(chosen)}; left out: {', '.join(left_out) or 'none'}")
    check_room(engine_root(), needed_gb(chosen, args.short))
    bench = prepare(args, run_settings, chosen)
    results: dict[str, Any] = {
        "command": " ".join(["nox -s bench", *(["--", *words] if (words := _words(args)) else [])]),
        "date": run_settings.date_tag,
        "short": args.short,
        "sections": chosen,
        "tag": bench.image.tag,
        "seconds_per_load": bench.mode.seconds,
        "rounds": bench.mode.rounds,
        "connections": CONNECTIONS,
        "machine": asdict(describe_machine(REPO_ROOT)),
    }
    for name in chosen:
        results |= SECTIONS[name](bench)
    return results


def _words(args: argparse.Namespace) -> list[str]:
    """The run's own options, as the report names its command."""
    return [
        *(["--short"] if args.short else []),
        *(f"--only={name}" for name in args.only or []),
        *filter(None, [args.tag]),
    ]


def _run(args: argparse.Namespace, settings: Settings) -> int:
    results = run_benchmarks(args, settings)
    args.output.mkdir(parents=True, exist_ok=True)
    (args.output / "benchmarks.json").write_text(json.dumps(results, indent=2) + "\n")
    if "throughput" in results:
        from devtools.bench.chart import write_throughput_chart  # matplotlib: not needed to check the options

        write_throughput_chart(results, args.output / "benchmarks-throughput.png")
    write_report(results, args.output / "benchmarks.md")
    say(f"bench: wrote {args.output / 'benchmarks.md'}")
    if args.output.resolve() == DOCS.resolve():  # the README quotes the committed report only
        write_readme_section(results, README)
        say(f"bench: wrote the Performance section of {README}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    def run() -> int:
        args = parser().parse(sys.argv[1:] if argv is None else argv)
        settings = settings_of(args)
        os.environ.update(environment_of(settings))  # for the commands the bench runs
        os.chdir(REPO_ROOT)  # bake resolves the build context against the working directory
        return _run(args, settings)

    return reporting_failures(run)


if __name__ == "__main__":
    sys.exit(main())
