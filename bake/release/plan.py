"""The inputs a release fixes once, for every job of the publishing workflow:

    python3 -m bake.release.plan [--if-base-moved=REPOSITORY] [TAG ...] >>"$GITHUB_OUTPUT"

prints `date=YYYY-MM-DD` (DATE, or today in UTC) and `tags=...` (the named tags, or every
tag of the matrix on that date, separated by spaces). With --if-base-moved (or env
IF_BASE_MOVED), only the tags whose image published in REPOSITORY was built on a base that
has moved since, or that is not published yet; one line on stderr per tag says why it is
rebuilt or skipped. Standard library only: it runs on a bare runner before anything is
installed (the base check uses the docker CLI).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from datetime import date

from bake.core.base_digest import (
    DigestReader,
    LabelReader,
    check_base,
    current_digest,
    published_labels,
)
from bake.core.matrix import load_matrix
from bake.core.naming import local_reference
from bake.core.selection import select, with_bases
from bake.core.settings import settings_from_environment
from bake.errors import reporting_errors
from bake.progress import emit, say


def release_plan(
    requested: Sequence[str],
    build_date: str,
    moved_in: str | None = None,
    read_labels: LabelReader = published_labels,
    read_digest: DigestReader = current_digest,
) -> list[str]:
    """The lines for $GITHUB_OUTPUT."""
    images = select(load_matrix(date.fromisoformat(build_date)), requested)
    if moved_in:
        checks = [
            check_base(image.name, str(local_reference(image, moved_in)), read_labels, read_digest) for image in images
        ]
        for check in checks:
            say(str(check))
        images = [image for image, check in zip(images, checks, strict=True) if check.rebuild]
    images = with_bases(images)  # a flavor is released only with the base it is built on
    return [f"date={build_date}", f"tags={' '.join(image.name for image in images)}"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m bake.release.plan", description=__doc__.split("\n\n")[0])
    parser.add_argument("tags", nargs="*", metavar="TAG")
    parser.add_argument(
        "--if-base-moved",
        metavar="REPOSITORY",
        default=os.environ.get("IF_BASE_MOVED") or None,
        help="only tags whose published image's base has moved (env IF_BASE_MOVED)",
    )
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)

    def run() -> int:
        lines = release_plan(args.tags, settings_from_environment().date_tag, args.if_base_moved)
        emit("\n".join(lines))
        return 0

    return reporting_errors(run)


if __name__ == "__main__":
    sys.exit(main())
