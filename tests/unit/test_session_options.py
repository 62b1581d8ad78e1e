"""The arguments of the nox sessions: both spellings of every option, one line for a mistake."""

from __future__ import annotations

import re

import pytest

from bake.matrix import REPO_ROOT
from bake.session_options import SESSIONS, OptionError, SessionArgs, parse_session_args

WITH_VALUE = [
    (session, name)
    for session, spec in SESSIONS.items()
    for option in spec.options
    if option.takes_value
    for name in option.names
    if name.startswith("--")
]


@pytest.mark.parametrize(("session", "name"), WITH_VALUE, ids=lambda value: str(value))
def test_every_long_option_with_a_value_takes_both_spellings(session: str, name: str) -> None:
    required = ["acme/ug"] if SESSIONS[session].min_positionals else []
    joined = parse_session_args(session, [*required, f"{name}=some-value"])
    separate = parse_session_args(session, [*required, name, "some-value"])
    assert joined == separate
    assert joined.positionals == required
    option = SESSIONS[session].find(name)
    assert option is not None
    if option.env:
        assert (joined.env, joined.tool_args) == ({option.env: "some-value"}, [])
    else:
        assert (joined.env, joined.tool_args) == ({}, [f"{name}=some-value"])


def test_the_readme_example_sets_the_base_and_names_one_tag() -> None:
    assert parse_session_args("build", ["--base", "standin", "python3.11-slim"]) == SessionArgs(
        positionals=["python3.11-slim"], env={"BASE": "standin"}, given={"--base"}
    )


def test_plan_with_a_date_sets_the_runs_date() -> None:
    parsed = parse_session_args("plan", ["--date", "2027-11-01"])
    assert (parsed.positionals, parsed.tool_args, parsed.env) == ([], [], {"DATE": "2027-11-01"})


def test_test_sorts_tags_from_pytest_options() -> None:
    parsed = parse_session_args("test", ["python3.11-slim", "--platform", "linux/amd64", "-k", "workers"])
    assert parsed.positionals == ["python3.11-slim"]
    assert parsed.tool_args == ["--platform=linux/amd64", "-k", "workers"]
    assert parse_session_args("test", ["-kworkers", "python3.11"]).tool_args == ["-k", "workers"]
    assert parse_session_args("test", ["--all-platforms", "-x"]).given == {"--all-platforms", "--exitfirst"}


def test_everything_after_a_literal_separator_goes_to_pytest_unchecked() -> None:
    parsed = parse_session_args("test", ["python3.11-slim", "--", "--durations=5", "-vv", "not-a-tag"])
    assert parsed.positionals == ["python3.11-slim"]
    assert parsed.tool_args == ["--durations=5", "-vv", "not-a-tag"]


def test_publish_and_bench_and_describe_take_their_own_options() -> None:
    publish = parse_session_args("publish", ["--to", "registry.example/acme/ug", "python3.11-slim", "--dry-run"])
    assert publish.tool_args == ["--to=registry.example/acme/ug", "--dry-run"]
    assert publish.positionals == ["python3.11-slim"]
    assert parse_session_args("bench", ["--short", "python3.11-slim"]).tool_args == ["--short"]
    describe = parse_session_args("describe", ["acme/ug", "--api", "http://127.0.0.1:9"])
    assert (describe.positionals, describe.tool_args) == (["acme/ug"], ["--api=http://127.0.0.1:9"])


@pytest.mark.parametrize(
    ("session", "words", "message"),
    [
        (
            "build",
            ["--bse", "standin"],
            "nox -s build: unknown option '--bse' (options: --base, --date, --image-name, --platform)",
        ),
        ("plan", ["-k", "x"], "nox -s plan: unknown option '-k' (options: --base, --date, --image-name)"),
        ("plan", ["--", "x"], "nox -s plan: unknown option '--' (options: --base, --date, --image-name)"),
        ("build", ["--base"], "nox -s build: --base needs a value: --base=VALUE or --base VALUE"),
        ("build", ["--base", "--date=2027-11-01"], "nox -s build: --base needs a value: --base=VALUE or --base VALUE"),
        ("publish", ["--to="], "nox -s publish: --to needs a value: --to=VALUE or --to VALUE"),
        ("publish", ["--dry-run=yes"], "nox -s publish: --dry-run takes no value, got '--dry-run=yes'"),
        ("bench", ["python3.11", "python3.13"], "nox -s bench: takes at most 1 TAG, got 2"),
        ("describe", [], "nox -s describe: needs a REPOSITORY"),
        ("generate", ["python3.11"], "nox -s generate: takes no positional argument, got 'python3.11'"),
        ("unit", [], "nox -s unit: no table of options"),
    ],
)
def test_a_mistake_is_one_line_naming_it(session: str, words: list[str], message: str) -> None:
    with pytest.raises(OptionError) as error:
        parse_session_args(session, words)
    assert str(error.value) == message


def test_an_unknown_test_option_points_at_the_separator() -> None:
    with pytest.raises(OptionError, match=r"^nox -s test: unknown option '--frobnicate' \(options: .*-k, -m.*"):
        parse_session_args("test", ["--frobnicate"])
    with pytest.raises(OptionError, match=r"; any pytest option after a literal --\)$"):
        parse_session_args("test", ["--frobnicate"])


def test_every_session_the_readme_shows_with_arguments_has_a_table() -> None:
    readme = (REPO_ROOT / "README.md").read_text()
    shown_with_arguments = set(re.findall(r"nox -s (\w+) --", readme))
    assert shown_with_arguments >= {"build", "test", "publish", "bench"}
    assert shown_with_arguments <= set(SESSIONS)
    noxfile = (REPO_ROOT / "noxfile.py").read_text()
    assert set(SESSIONS) <= set(re.findall(r"^def (\w+)\(session", noxfile, re.MULTILINE))
