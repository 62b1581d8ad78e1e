"""Writes docker-bake.hcl, the bake definition of the whole matrix."""

from __future__ import annotations

import jinja2

from bake.matrix import REPO_ROOT, Matrix
from bake.tags import dated_tags, moving_tags

BAKE_FILE = REPO_ROOT / "docker-bake.hcl"
# Dated tags are rendered with an HCL interpolation in place of the date.
_HCL_DATE = "${DATE}"


def render_bake_file(matrix: Matrix) -> str:
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("bake", "templates"),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    return environment.get_template("docker-bake.hcl.j2").render(
        images=matrix.images,
        moving={image.tag: moving_tags(image) for image in matrix.images},
        dated={image.tag: dated_tags(image, _HCL_DATE) for image in matrix.images},
    )
