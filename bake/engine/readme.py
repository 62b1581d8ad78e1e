"""The README's "Supported tags" and "Deprecated tags" sections, generated from the matrix."""

from __future__ import annotations

from bake.core.matrix import Matrix
from bake.core.naming import repository_of
from bake.core.settings import DEFAULT_IMAGE_NAME
from bake.core.tags import moving_tags
from bake.engine.rendering import template_environment
from bake.errors import BakeError

BEGIN = "<!-- tags:begin -->\n"
END = "<!-- tags:end -->\n"


class ReadmeError(BakeError):
    """The README lacks the markers around one of its generated sections."""


def _example_tag(matrix: Matrix) -> str:
    """The tag the date-tag example names: the default slim one where there is one."""
    return next((image.tag for image in reversed(matrix.images) if image.is_default), "")


def render_tag_sections(matrix: Matrix) -> str:
    platforms = sorted({platform for image in matrix.images for platform in image.platforms})
    template = template_environment().get_template("readme-tags.md.j2")
    # One image of each flavor, for its repository's name.
    flavor_images = {image.flavor.name: image for image in matrix.flavored if image.flavor}
    return template.render(
        generated_for=matrix.build_date,
        images=matrix.images,
        moving={image.tag: moving_tags(image) for image in matrix.images},
        retired=matrix.retired,
        platforms=platforms,
        example_tag=_example_tag(matrix),
        flavors=matrix.flavors,
        image_name=DEFAULT_IMAGE_NAME,
        repositories={name: repository_of(image, DEFAULT_IMAGE_NAME) for name, image in flavor_images.items()},
    )


def with_section(readme: str, begin: str, end: str, text: str) -> str:
    """`readme` with the text between its lines `begin` and `end` replaced by `text`."""
    start, stop = readme.find(begin), readme.find(end)
    if start < 0 or stop < start:
        raise ReadmeError(f"README.md needs the lines {begin.strip()} and {end.strip()} around a generated section")
    return readme[: start + len(begin)] + text + readme[stop:]


def with_tag_sections(readme: str, matrix: Matrix) -> str:
    """`readme` with the text between its markers replaced by freshly rendered sections."""
    return with_section(readme, BEGIN, END, render_tag_sections(matrix))
