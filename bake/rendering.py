"""The project's jinja2 templates (bake/templates/), rendered strictly: an undefined name is an error."""

from __future__ import annotations

import jinja2


def template_environment(trim_blocks: bool = False) -> jinja2.Environment:
    """`trim_blocks` drops the newline after a block tag and the indentation before it."""
    return jinja2.Environment(
        loader=jinja2.PackageLoader("bake", "templates"),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=trim_blocks,
        lstrip_blocks=trim_blocks,
    )
