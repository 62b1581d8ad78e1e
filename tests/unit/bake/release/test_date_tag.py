"""The date tag a release takes: free, its own (a retry, or an identical rebuild), or the next
serial; never a taken one. A release whose platform images every moving tag already holds
writes nothing."""

from __future__ import annotations

import pytest

from bake.core.matrix import DebianSuite, Image
from bake.core.reference import ImageReference, parse_reference
from bake.core.registry_reader import Index
from bake.release.date_tag import MAX_SERIAL, DateTag, DateTagError, choose_date_tag, unchanged_line

IMAGE = Image("3.11", "slim", DebianSuite("bookworm", ()), ("linux/amd64",), True)
REPOSITORY = "registry.example/acme/ug"
DATE_TAG = ImageReference(REPOSITORY, "python3.11-slim-2026-11-24")
MOVING = [ImageReference(REPOSITORY, "python3.11-slim"), ImageReference(REPOSITORY, "latest")]


def _index(image: str, index_digest: str | None = None) -> Index:
    """An index of one amd64 image `image`; its own digest differs with its attestations."""
    return Index(index_digest or f"sha256:index-of-{image}", {"linux/amd64": f"sha256:{image}"}, {})


def _choose(registry: dict[ImageReference, Index], image: str = "new") -> DateTag:
    return choose_date_tag(IMAGE, REPOSITORY, "2026-11-24", {"linux/amd64": f"sha256:{image}"}, registry.get)


def test_a_free_date_tag_is_taken() -> None:
    assert _choose({}) == DateTag(DATE_TAG, already_there=False)


def test_a_retried_release_keeps_its_own_date_tag() -> None:
    assert _choose({DATE_TAG: _index("new")}) == DateTag(DATE_TAG, already_there=True)


def test_an_identical_rebuild_keeps_the_date_tag_of_its_platform_images(capsys: pytest.CaptureFixture[str]) -> None:
    """Another index (new provenance) of the same platform images is no new release."""
    assert _choose({DATE_TAG: _index("new", "sha256:earlier-index")}) == DateTag(DATE_TAG, already_there=True)
    assert "already holds these platform images (sha256:earlier-index); kept" in capsys.readouterr().err


def test_a_second_release_the_same_day_takes_the_next_serial(capsys: pytest.CaptureFixture[str]) -> None:
    taken = {DATE_TAG: _index("first"), DATE_TAG.with_serial(2): _index("second")}
    assert _choose(taken) == DateTag(parse_reference(f"{DATE_TAG}.3"), already_there=False)
    assert f"date tag {DATE_TAG}: holds another index (sha256:index-of-first); it never moves" in (
        capsys.readouterr().err
    )
    assert _choose(taken, "second") == DateTag(DATE_TAG.with_serial(2), already_there=True)


def test_when_every_serial_is_taken_the_release_stops() -> None:
    taken = {DATE_TAG.with_serial(n): _index(str(n)) for n in range(1, MAX_SERIAL + 1)}
    with pytest.raises(DateTagError, match=r"every date tag of 2026-11-24 up to \.99 is taken"):
        _choose(taken)


def test_a_release_every_moving_tag_already_holds_writes_nothing() -> None:
    registry = {reference: _index("same", "sha256:older-index") for reference in MOVING}
    line = unchanged_line("python3.11-slim", MOVING, {"linux/amd64": "sha256:same"}, registry.get)
    assert line == (
        f"python3.11-slim: unchanged, nothing written: {MOVING[0]}, {MOVING[1]} already hold these platform "
        "images (linux/amd64 sha256:same)"
    )


@pytest.mark.parametrize(
    "registry",
    [
        {},  # never published
        {MOVING[0]: _index("same")},  # `latest` is new to this tag
        {MOVING[0]: _index("same"), MOVING[1]: _index("other")},
        {MOVING[0]: _index("other"), MOVING[1]: _index("other")},
        {
            MOVING[0]: Index("sha256:i", {"linux/amd64": "sha256:same", "linux/arm64": "sha256:a"}, {}),
            MOVING[1]: _index("same"),
        },
    ],
)
def test_a_release_is_written_where_any_moving_tag_holds_something_else(registry: dict[ImageReference, Index]) -> None:
    assert unchanged_line("python3.11-slim", MOVING, {"linux/amd64": "sha256:same"}, registry.get) is None
