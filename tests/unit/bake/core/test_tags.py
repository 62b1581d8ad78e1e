from __future__ import annotations

from bake.core.matrix import DebianSuite, Image
from bake.core.tags import dated_tags, moving_tags

SUITE = DebianSuite("bookworm", ())
PLATFORMS = ("linux/amd64",)


def _image(variant: str, is_default: bool = True) -> Image:
    return Image("3.11", variant, SUITE, PLATFORMS, is_default)


def test_latest_goes_only_to_the_default_full_image() -> None:
    assert moving_tags(_image("full")) == ["python3.11", "latest"]
    assert moving_tags(_image("slim")) == ["python3.11-slim"]
    assert moving_tags(_image("full", is_default=False)) == ["python3.11"]


def test_dated_tags_never_include_latest() -> None:
    assert dated_tags(_image("full"), "2026-11-24") == ["python3.11-2026-11-24"]
