"""Which tags the scheduled release rebuilds because their base moved, each with one line."""

from __future__ import annotations

import pytest

from bake.core.base_digest import BASE_DIGEST_LABEL, BASE_LABEL, check_base
from bake.release.plan import release_plan

OLD, NEW = "sha256:" + "a" * 64, "sha256:" + "b" * 64
BASE = "registry.example/python:3.11-slim"


def _published(digest: str) -> dict[str, str]:
    return {BASE_LABEL: BASE, BASE_DIGEST_LABEL: digest}


@pytest.mark.parametrize(
    ("labels", "now", "rebuild", "line"),
    [
        (_published(OLD), OLD, False, f"python3.11-slim: skip: base {BASE} is still {OLD}"),
        (_published(OLD), NEW, True, f"python3.11-slim: rebuild: base {BASE} moved from {OLD} to {NEW}"),
        (None, NEW, True, "python3.11-slim: rebuild: repo:python3.11-slim is not published yet"),
        (
            {BASE_LABEL: BASE},
            NEW,
            True,
            f"python3.11-slim: rebuild: repo:python3.11-slim does not record its base digest ({BASE_DIGEST_LABEL})",
        ),
        (
            _published(OLD),
            None,
            True,
            f"python3.11-slim: rebuild: base {BASE} cannot be found now; a rebuild will say why",
        ),
    ],
)
def test_one_line_says_why_a_tag_is_rebuilt_or_skipped(
    labels: dict[str, str] | None, now: str | None, rebuild: bool, line: str
) -> None:
    check = check_base("python3.11-slim", "repo:python3.11-slim", lambda _: labels, lambda _: now)
    assert (check.rebuild, str(check)) == (rebuild, line)


def test_the_plan_keeps_only_the_tags_whose_base_moved(capsys: pytest.CaptureFixture[str]) -> None:
    published = {"repo:python3.11-slim": _published(OLD), "repo:python3.11": _published(NEW)}
    lines = release_plan(
        ["python3.11-slim", "python3.11"],
        "2026-11-24",
        "repo",
        read_labels=published.get,
        read_digest=lambda base: NEW,
    )
    assert lines == ["date=2026-11-24", "tags=python3.11-slim"]
    said = capsys.readouterr().err.splitlines()
    assert said == [
        f"python3.11: skip: base {BASE} is still {NEW}",
        f"python3.11-slim: rebuild: base {BASE} moved from {OLD} to {NEW}",
    ]


def test_without_the_check_every_tag_is_planned() -> None:
    def unread(_: str) -> None:
        raise AssertionError("no registry is read without --if-base-moved")

    lines = release_plan(["python3.11-slim", "python3.11"], "2026-11-24", None, unread, unread)
    assert lines == ["date=2026-11-24", "tags=python3.11 python3.11-slim"]
