"""The arguments of every nox session, parsed where the session's command defines them: both
spellings of every option, options and tags in any order, one line for a mistake."""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Callable

import pytest

import devtools.bench.__main__ as bench
import devtools.workflow_run.__main__ as workflow_run
from bake.__main__ import COMMANDS, command_parser, main
from bake.errors import UsageError
from bake.options import INVOKED_AS, OptionParser
from bake.paths import NOXFILE, README, REPO_ROOT

# Each nox session that takes arguments and the parser its command reads them with.
SESSION_PARSERS: dict[str, Callable[[], OptionParser]] = {
    **{name: (lambda name=name: command_parser(name)) for name in COMMANDS if name != "select"},  # type: ignore[misc]
    "bench": bench.parser,
    "workflows": workflow_run.parser,
}
POSITIONAL_NEEDED = {"describe": ["acme/ug"], "workflows": ["python3.11-slim"]}
REQUIRED = {
    "stage": ["--platform=linux/amd64", "--to=r", "--digests=d.json"],
    "merge": ["--to=r", "--digests=d.json"],
    "publish": ["--to=r"],
}


def _parse(session: str, words: list[str]) -> argparse.Namespace:
    return SESSION_PARSERS[session]().parse([*POSITIONAL_NEEDED.get(session, []), *REQUIRED.get(session, []), *words])


def _options_with_a_value() -> list[tuple[str, str]]:
    found = []
    for session, make in SESSION_PARSERS.items():
        for action in make()._actions:
            long_names = [name for name in action.option_strings if name.startswith("--")]
            if long_names and action.nargs != 0 and action.help != argparse.SUPPRESS and not action.choices:
                found += [(session, name) for name in long_names if name not in ("--digests",)]
    return found


@pytest.mark.parametrize(("session", "name"), _options_with_a_value(), ids=str)
def test_every_long_option_with_a_value_takes_both_spellings(session: str, name: str) -> None:
    value = "2027-11-01" if name == "--date" else "some-value"
    assert vars(_parse(session, [f"{name}={value}"])) == vars(_parse(session, [name, value]))


def test_the_readme_example_sets_the_base_and_names_one_tag() -> None:
    parsed = _parse("build", ["--base", "standin", "python3.11-slim"])
    assert (parsed.base, parsed.tags) == ("standin", ["python3.11-slim"])


def test_tags_and_options_come_in_any_order() -> None:
    parsed = _parse("build", ["python3.11", "--platform", "linux/amd64", "python3.12-slim", "--date=2027-11-01"])
    assert (parsed.tags, parsed.platform, parsed.date) == (
        ["python3.11", "python3.12-slim"],
        "linux/amd64",
        "2027-11-01",
    )


def test_test_passes_pytest_options_on_as_written() -> None:
    parsed = _parse("test", ["python3.11-slim", "--platform", "linux/amd64", "-k", "workers"])
    assert parsed.tags == ["python3.11-slim"]
    assert parsed.passed_on == ["-k", "workers"]
    assert parsed.platforms == ["linux/amd64"]  # built alone, then tested: see test_cli


def test_test_builds_and_tests_only_the_platforms_named() -> None:
    parsed = _parse("test", ["--platform=linux/arm64", "python3.11-slim", "--platform", "linux/amd64"])
    assert parsed.platforms == ["linux/arm64", "linux/amd64"]
    assert _parse("test", ["python3.11-slim"]).platforms == []
    with pytest.raises(UsageError, match="invalid choice: 'linux/s390x'"):
        _parse("test", ["--platform", "linux/s390x"])
    assert _parse("test", ["-kworkers", "python3.11"]).passed_on == ["-k", "workers"]
    parsed = _parse("test", ["--all-platforms", "-x"])
    assert (parsed.all_platforms, parsed.passed_on) == (True, ["-x"])


def test_everything_after_a_literal_separator_goes_to_pytest_unchecked() -> None:
    parsed = _parse("test", ["python3.11-slim", "--", "--durations=5", "-vv", "not-a-tag"])
    assert parsed.tags == ["python3.11-slim"]
    assert parsed.passed_on == ["--durations=5", "-vv", "not-a-tag"]


def test_publish_and_bench_and_describe_take_their_own_options() -> None:
    publish = _parse("publish", ["python3.11-slim", "--dry-run"])
    assert (publish.to, publish.dry_run, publish.tags) == ("r", True, ["python3.11-slim"])
    assert _parse("bench", ["--short", "python3.11-slim"]).short
    describe = _parse("describe", ["--api", "http://127.0.0.1:9"])
    assert (describe.repository, describe.api) == ("acme/ug", "http://127.0.0.1:9")


@pytest.mark.parametrize(
    ("session", "words", "message"),
    [
        ("build", ["--bse", "standin"],
         "python -m bake build: unknown option '--bse' (options: --image-name, --date, --base, --platform)"),
        ("plan", ["-k", "x"], "python -m bake plan: unknown option '-k' (options: --image-name, --date, --base)"),
        ("plan", ["--platform=linux/amd64"], "python -m bake plan: unknown option '--platform' (options: "
         "--image-name, --date, --base)"),
        ("build", ["--base"], "python -m bake build: argument --base: expected one argument"),
        ("build", ["--base", "--date=2027-11-01"], "python -m bake build: argument --base: expected one argument"),
        ("publish", ["--dry-run=yes"], "python -m bake publish: argument --dry-run: ignored explicit argument 'yes'"),
        ("bench", ["python3.11", "python3.13"],
         "python -m devtools.bench: takes no further positional argument, got 'python3.13'"),
        ("generate", ["python3.11"], "python -m bake generate: takes no further positional argument, got 'python3.11'"),
        ("build", ["--platform", "linux/s390x"], "python -m bake build: argument --platform: invalid choice: "
         "'linux/s390x' (choose from 'linux/amd64', 'linux/arm64')"),
    ],
)  # fmt: skip
def test_a_mistake_is_one_line_naming_it(session: str, words: list[str], message: str) -> None:
    with pytest.raises(UsageError) as error:
        SESSION_PARSERS[session]().parse(words)
    assert str(error.value) == message
    assert "\n" not in str(error.value)


def test_a_missing_required_option_and_a_missing_positional_are_named() -> None:
    with pytest.raises(UsageError, match=r"^python -m bake stage: the following arguments are required: --platform"):
        command_parser("stage").parse(["--to=r", "--digests=d.json"])
    with pytest.raises(UsageError, match=r"^python -m bake describe: the following arguments are required: repository"):
        command_parser("describe").parse([])


def test_an_unknown_test_option_points_at_the_separator() -> None:
    with pytest.raises(UsageError, match=r"^python -m bake test: unknown option '--frobnicate' \(options: .*--base.*"):
        command_parser("test").parse(["--frobnicate"])
    with pytest.raises(UsageError, match=r"; any pytest option after a literal --\)$"):
        command_parser("test").parse(["--frobnicate=1"])


def test_an_error_begins_with_the_command_the_user_typed(monkeypatch: pytest.MonkeyPatch) -> None:
    assert f'INVOKED_AS = "{INVOKED_AS}"' in NOXFILE.read_text()  # noxfile.py imports no bake module
    monkeypatch.setenv(INVOKED_AS, "nox -s build")
    with pytest.raises(UsageError, match=r"^nox -s build: unknown option '--bse'"):
        command_parser("build").parse(["--bse"])


def test_the_typed_command_is_not_handed_down_to_what_the_command_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """`nox -s workflows` runs act, whose jobs run `nox -s unit`: their errors name their own command."""
    monkeypatch.setenv(INVOKED_AS, "nox -s workflows")
    assert workflow_run.parser().prog == "nox -s workflows"
    assert INVOKED_AS not in os.environ
    assert command_parser("build").prog == "python -m bake build"


def test_the_command_line_ends_a_mistake_with_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["build", "--bse"]) == 2
    assert main(["frobnicate"]) == 2
    assert main([]) == 2
    errors = capsys.readouterr().err.splitlines()
    assert [line.split(":", 1)[0] for line in errors] == ["error"] * 3
    assert "unknown command 'frobnicate' (commands: generate, plan, select, build, test," in errors[1]


BUILDING_DOCS = REPO_ROOT / "docs" / "building.md"


def test_every_session_the_readme_shows_with_arguments_runs_a_command_that_parses_them() -> None:
    shown_with_arguments = set(re.findall(r"nox -s (\w+) --", README.read_text() + BUILDING_DOCS.read_text()))
    assert shown_with_arguments >= {"build", "test", "publish", "bench"}
    assert shown_with_arguments - {"hosts", "vms"} <= set(SESSION_PARSERS)
    noxfile = NOXFILE.read_text()
    commands_run = {
        session: found[0]
        for session, body in re.findall(
            r"^def (\w+)\(session: nox.Session\) -> None:\n(.*?)(?=^\S)", noxfile, re.M | re.S
        )
        if (found := re.findall(r'_run\(session, "\w+", "bake", "(\w+)"\)', body))
    }
    assert {name: command for name, command in commands_run.items() if name != command} == {}
    assert set(commands_run) == set(COMMANDS) - {"select"}
