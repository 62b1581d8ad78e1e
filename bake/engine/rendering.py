"""The project's jinja2 templates, rendered strictly: an undefined name is an error. Each package
keeps its own in a `templates/` folder beside its modules (bake/engine/templates/,
devtools/bench/templates/)."""

from __future__ import annotations

import jinja2


def template_environment(package: str = "bake.engine", trim_blocks: bool = False) -> jinja2.Environment:
    """The templates of `package`; `trim_blocks` drops the newline after a block tag and the
    indentation before it."""
    return jinja2.Environment(
        loader=jinja2.PackageLoader(package, "templates"),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=trim_blocks,
        lstrip_blocks=trim_blocks,
    )
