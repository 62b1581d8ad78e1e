"""Writes docker-bake.hcl, the bake definition of the whole matrix."""

from __future__ import annotations

import re

from bake.core.matrix import Matrix
from bake.engine.rendering import template_environment
from bake.errors import BakeError

_TARGET = re.compile(r'^target "([^"]+)" \{$', re.MULTILINE)


class BakeFileError(BakeError):
    """docker-bake.hcl cannot build what was asked."""


def render_bake_file(matrix: Matrix) -> str:
    template = template_environment().get_template("docker-bake.hcl.j2")
    return template.render(
        generated_for=matrix.build_date,
        images=matrix.images,
        flavored=matrix.flavored,
        family=matrix.family,
    )


def bake_targets(text: str) -> set[str]:
    """The names of the targets a bake file defines."""
    return set(_TARGET.findall(text))
