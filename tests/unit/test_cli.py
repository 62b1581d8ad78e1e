"""The command line of bake: one line per problem, and the right exit code."""

from __future__ import annotations

import pytest

from bake.__main__ import main


def test_plan_lists_base_platforms_and_tags(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "python3.11-slim", "--date", "2026-11-24", "--image-name", "acme/ug"]) == 0
    assert capsys.readouterr().out == (
        "python3_11-slim: base python:3.11-slim (offline: stand-in from Debian bookworm); "
        "platforms linux/amd64, linux/arm64; tags acme/ug:python3.11-slim, acme/ug:python3.11-slim-2026-11-24\n"
    )


def test_select_without_buildable_lists_the_named_tags(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["select", "python3.13", "latest"]) == 0
    assert capsys.readouterr().out.split() == ["python3.11", "python3.13"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["plan", "python2.7"], "error: unknown tag 'python2.7'; valid tags: "),
        (["plan", "--date", "2026-02-30"], "error: DATE='2026-02-30' is not a calendar date"),
        (["select", "--buildable", "--base", "nope"], "error: BASE='nope' is not one of auto, official, standin"),
        (["merge", "python3.11", "python3.13", "--to", "r", "--source", "s"], "error: merge takes exactly one tag"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    error = capsys.readouterr().err
    assert error.startswith(message)
    assert error.count("\n") == 1
