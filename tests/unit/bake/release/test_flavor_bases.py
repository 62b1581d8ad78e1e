"""A flavor is published only together with the exact base image it was built and tested on."""

from __future__ import annotations

from datetime import date

import pytest

from bake.core.matrix import Image, load_matrix
from bake.core.selection import with_bases
from bake.release.flavor_bases import FlavorBaseError, check_flavor_bases
from bake.release.plan import release_plan
from bake.release.publish import Publication

MATRIX = load_matrix(date(2026, 11, 24))
BASE = MATRIX.by_tag()["python3.11-slim"]
FASTAPI = next(image for image in MATRIX.flavored if image.name == "fastapi:python3.11-slim")
LAYERS = {
    "ug:python3.11-slim": ["sha256:debian", "sha256:server"],
    "ug-fastapi:python3.11-slim": ["sha256:debian", "sha256:server", "sha256:fastapi"],
    "ug-fastapi:on-another-base": ["sha256:debian", "sha256:older-server", "sha256:fastapi"],
}


def _publication(image: Image, source: str, family: str = "registry.example/acme/ug") -> Publication:
    return Publication(image, source, "sha256:index", {}, family, "2026-11-24")


def _layers(publication: Publication) -> dict[str, list[str]]:
    return {"linux/amd64": LAYERS[publication.source]}


def _source(publication: Publication) -> str:
    return publication.source


def test_a_flavor_goes_to_its_own_repository_with_the_bases_tags() -> None:
    publication = _publication(FASTAPI, "ug-fastapi:python3.11-slim")
    assert publication.repository == "registry.example/acme/ug-fastapi"
    assert [str(target) for target in publication.moving_targets] == [
        "registry.example/acme/ug-fastapi:python3.11-slim"
    ]


def test_a_flavor_with_its_base_built_under_it_is_published() -> None:
    publications = [_publication(BASE, "ug:python3.11-slim"), _publication(FASTAPI, "ug-fastapi:python3.11-slim")]
    check_flavor_bases(publications, _layers, _source)


def test_a_flavor_without_its_base_is_refused() -> None:
    with pytest.raises(
        FlavorBaseError, match=r"^fastapi:python3.11-slim is published only with its base python3.11-slim"
    ):
        check_flavor_bases([_publication(FASTAPI, "ug-fastapi:python3.11-slim")], _layers, _source)
    elsewhere = [
        _publication(BASE, "ug:python3.11-slim", "other/ug"),
        _publication(FASTAPI, "ug-fastapi:python3.11-slim"),
    ]
    with pytest.raises(FlavorBaseError, match="published only with its base"):
        check_flavor_bases(elsewhere, _layers, _source)


def test_a_flavor_built_on_another_base_is_refused() -> None:
    publications = [_publication(BASE, "ug:python3.11-slim"), _publication(FASTAPI, "ug-fastapi:on-another-base")]
    with pytest.raises(FlavorBaseError, match=r"was not built on ug:python3.11-slim as tested"):
        check_flavor_bases(publications, _layers, _source)


def test_a_build_of_a_flavor_builds_its_base_first() -> None:
    assert with_bases([FASTAPI]) == [BASE, FASTAPI]
    assert with_bases([FASTAPI, BASE]) == [BASE, FASTAPI]
    assert with_bases([BASE]) == [BASE]


def test_the_release_plan_takes_a_flavors_base_along() -> None:
    lines = release_plan(["fastapi:python3.11-slim"], "2026-11-24")
    assert lines == ["date=2026-11-24", "tags=python3.11-slim fastapi:python3.11-slim"]


@pytest.mark.parametrize(
    "flavor_arm64",
    [["sha256:debian-arm64", "sha256:older-server-arm64", "sha256:fastapi"], None],
    ids=["on-another-base", "platform-missing"],
)
def test_every_platform_of_a_flavor_must_sit_on_its_base(flavor_arm64: list[str] | None) -> None:
    """Merging the runners' staged images: one runner's flavor on another base is refused."""
    base_layers = {
        "linux/amd64": ["sha256:debian", "sha256:server"],
        "linux/arm64": ["sha256:debian-arm64", "sha256:server-arm64"],
    }
    flavor_layers = {"linux/amd64": ["sha256:debian", "sha256:server", "sha256:fastapi"]}
    if flavor_arm64 is not None:
        flavor_layers["linux/arm64"] = flavor_arm64
    by_name = {"python3.11-slim": base_layers, "fastapi:python3.11-slim": flavor_layers}
    placed = [_publication(BASE, "ug:python3.11-slim"), _publication(FASTAPI, "ug-fastapi:python3.11-slim")]
    with pytest.raises(FlavorBaseError, match=r"^ug-fastapi:python3.11-slim \(linux/arm64\) was not built on"):
        check_flavor_bases(placed, lambda item: by_name[item.image.name], _source)
    flavor_layers["linux/arm64"] = ["sha256:debian-arm64", "sha256:server-arm64", "sha256:fastapi"]
    check_flavor_bases(placed, lambda item: by_name[item.image.name], _source)
