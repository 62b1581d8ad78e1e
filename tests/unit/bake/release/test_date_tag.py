"""The date tag a release takes: free, its own (a retry), or the next serial; never a taken one."""

from __future__ import annotations

import pytest

from bake.core.matrix import DebianSuite, Image
from bake.core.reference import ImageReference, parse_reference
from bake.release.date_tag import MAX_SERIAL, DateTag, DateTagError, choose_date_tag

IMAGE = Image("3.11", "slim", DebianSuite("bookworm", ()), ("linux/amd64",), True)
REPOSITORY = "registry.example/acme/ug"
DATE_TAG = ImageReference(REPOSITORY, "python3.11-slim-2026-11-24")


def _choose(registry: dict[ImageReference, str], digest: str = "sha256:new") -> DateTag:
    return choose_date_tag(IMAGE, REPOSITORY, "2026-11-24", digest, registry.get)


def test_a_free_date_tag_is_taken() -> None:
    assert _choose({}) == DateTag(DATE_TAG, already_there=False)


def test_a_retried_release_keeps_its_own_date_tag() -> None:
    assert _choose({DATE_TAG: "sha256:new"}) == DateTag(DATE_TAG, already_there=True)


def test_a_second_release_the_same_day_takes_the_next_serial(capsys: pytest.CaptureFixture[str]) -> None:
    taken = {DATE_TAG: "sha256:first", DATE_TAG.with_serial(2): "sha256:second"}
    assert _choose(taken) == DateTag(parse_reference(f"{DATE_TAG}.3"), already_there=False)
    assert f"date tag {DATE_TAG}: holds another index (sha256:first); it never moves" in capsys.readouterr().err
    assert _choose(taken, "sha256:second") == DateTag(DATE_TAG.with_serial(2), already_there=True)


def test_when_every_serial_is_taken_the_release_stops() -> None:
    taken = {DATE_TAG.with_serial(n): f"sha256:{n}" for n in range(1, MAX_SERIAL + 1)}
    with pytest.raises(DateTagError, match=r"every date tag of 2026-11-24 up to \.99 is taken"):
        _choose(taken)
