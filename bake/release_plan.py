"""The inputs a release fixes once, for every job of the publishing workflow:

    python3 -m bake.release_plan [TAG ...] >>"$GITHUB_OUTPUT"

prints `date=YYYY-MM-DD` (DATE, or today in UTC) and `tags=...` (the named tags, or every
tag of the matrix on that date, separated by spaces). Standard library only: it runs on a
bare runner before anything is installed.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from datetime import date

from bake.matrix import MatrixError, load_matrix, utc_today
from bake.selection import SelectionError, select
from bake.tags import TagError, validate_date


def release_plan(requested: Sequence[str], build_date: str) -> list[str]:
    """The lines for $GITHUB_OUTPUT."""
    images = select(load_matrix(date.fromisoformat(build_date)), requested)
    return [f"date={build_date}", f"tags={' '.join(image.tag for image in images)}"]


def main(argv: Sequence[str] | None = None) -> int:
    requested = list(sys.argv[1:] if argv is None else argv)
    try:
        build_date = validate_date(os.environ.get("DATE") or utc_today().isoformat())
        lines = release_plan(requested, build_date)
    except (MatrixError, SelectionError, TagError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
