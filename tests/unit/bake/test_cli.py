"""The command line of bake: one line per problem, and the right exit code; after any end of
life, exit 0 with one line for each thing that changed."""

from __future__ import annotations

import shutil
from datetime import date, timedelta
from pathlib import Path

import pytest

import bake.commands
from bake.__main__ import main
from bake.core.matrix import Image, load_matrix
from bake.engine.generated import COMMITTED_FILES, GeneratedFile, generate, generated_for

GENERATED_ON = date(2026, 11, 24)


@pytest.fixture(autouse=True)
def without_settings_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The defaults under test, whatever the calling shell sets (a workflow sets IMAGE_NAME)."""
    for name in ("IMAGE_NAME", "DATE", "BASE", "PUBLISH_TO"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(autouse=True)
def generated_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[GeneratedFile, ...]:
    """The command line works on copies of the generated files, generated for GENERATED_ON."""
    files = []
    for committed in COMMITTED_FILES:
        shutil.copy(committed.path, tmp_path / committed.name)
        files.append(GeneratedFile(tmp_path / committed.name, committed.render))
    assert generate(GENERATED_ON, check=False, files=files) == 0
    monkeypatch.setattr(bake.commands, "COMMITTED_FILES", tuple(files))
    return tuple(files)


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str], list[str]]:
    capsys.readouterr()
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out.splitlines(), captured.err.splitlines()


def test_plan_lists_base_platforms_and_tags(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(["plan", "python3.11-slim", "--date", "2026-11-24", "--image-name", "acme/ug"], capsys)
    assert (code, err) == (0, [])
    assert out == [
        "python3_11-slim: base python:3.11-slim (offline: stand-in from Debian bookworm); "
        "platforms linux/amd64, linux/arm64; tags acme/ug:python3.11-slim, acme/ug:python3.11-slim-2026-11-24"
    ]


def test_plan_lists_a_flavor_on_its_base_target(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(["plan", "fastapi:latest", "--date", "2026-11-24", "--image-name", "acme/ug"], capsys)
    assert (code, err) == (0, [])
    assert out == [
        "fastapi-python3_11: flavor fastapi (fastapi==0.165.0) on target python3_11; "
        "platforms linux/amd64, linux/arm64; "
        "tags acme/ug-fastapi:python3.11, acme/ug-fastapi:latest, acme/ug-fastapi:python3.11-2026-11-24"
    ]


def test_an_unknown_flavor_is_one_line_listing_the_valid_ones(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(["plan", "django:python3.11", "--date", "2026-11-24"], capsys)
    assert (code, out) == (2, [])
    assert err == ["error: unknown flavor 'django' in 'django:python3.11'; valid flavors: fastapi, starlette"]


def test_select_without_buildable_lists_the_named_tags(capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(["select", "python3.13", "latest", "--date", "2026-11-24"], capsys) == (
        0,
        ["python3.11", "python3.13"],
        [],
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["plan", "python2.7"], "error: unknown tag 'python2.7'; valid tags: "),
        (["plan", "--date", "2026-02-30"], "error: --date='2026-02-30' is not valid: expected YYYY-MM-DD"),
        (["generate", "--date", "soon"], "error: --date='soon' is not valid: expected YYYY-MM-DD"),
        (
            ["select", "--buildable", "--base", "nope"],
            "error: --base='nope' is not valid: expected one of auto, official, standin",
        ),
        (["plan", "--image-name", "Acme/UG:tag"], "error: --image-name='Acme/UG:tag' is not valid: expected"),
        (
            ["merge", "--to", "r", "--digests", "/nonexistent.json"],
            "error: --digests='/nonexistent.json' cannot be read",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_2(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run([*argv, "--date", "2026-11-24"] if "--date" not in argv else argv, capsys)
    assert code == 2
    assert len(err) == 1
    assert err[0].startswith(message)


RETIRED_3_11 = "retired: python 3.11 reached end of life on 2027-10-31; no longer built"
LATEST_TO_3_15 = (
    "latest: default_python 3.11 reached end of life on 2027-10-31; latest is python 3.15 now, "
    "the newest supported version (set default_python in images/matrix.toml)"
)
STALE_2027 = (
    "stale: docker-bake.hcl and README.md were generated for 2026-11-24; since then python 3.11 reached end of "
    "life on 2027-10-31 and latest moved to python 3.15; run: nox -s generate"
)


def test_plan_on_2027_11_01_retires_3_11_and_moves_latest(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(["plan", "--date", "2027-11-01"], capsys)
    assert code == 0
    assert err == [RETIRED_3_11, LATEST_TO_3_15, STALE_2027]
    bases = [f"python3_{minor}{variant}" for minor in range(12, 16) for variant in ("", "-slim")]
    flavors = [f"{flavor}-{base}" for flavor in ("fastapi", "starlette") for base in bases]
    assert [line.split(":")[0] for line in out] == bases + flavors
    assert [line for line in out if "uvicorn-gunicorn:latest" in line] == [
        "python3_15: base python:3.15 (offline: stand-in from Debian forky); platforms linux/amd64, linux/arm64; "
        "tags uvicorn-gunicorn:python3.15, uvicorn-gunicorn:latest, uvicorn-gunicorn:python3.15-2027-11-01"
    ]


def test_plan_on_2031_11_01_has_nothing_left_and_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(["plan", "--date", "2031-11-01"], capsys)
    assert (code, out) == (0, [])
    assert err == [
        *(
            f"retired: python 3.{minor} reached end of life on 20{16 + minor}-10-31; no longer built"
            for minor in range(11, 16)
        ),
        "stale: docker-bake.hcl and README.md were generated for 2026-11-24; since then python 3.11, 3.12, 3.13, "
        "3.14 and 3.15 reached end of life; run: nox -s generate",
        "nothing left to build: on 2031-11-01 every python version in images/matrix.toml is past its end of life",
    ]


def test_select_keeps_stdout_a_tag_list_and_quiet_says_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(["select", "python3.11-slim", "python3.13", "--date", "2027-11-01"], capsys)
    assert (code, out) == (0, ["python3.13"])
    assert err[-1] == "skipped: python3.11-slim is retired: python 3.11 reached end of life on 2027-10-31"
    assert _run(["select", "--quiet", "--date", "2031-11-01"], capsys) == (0, [], [])
    code, out, err = _run(["select", "python3.11", "--date", "2027-11-01"], capsys)
    assert (code, out) == (0, [])
    assert err[-2:] == [
        "skipped: python3.11 is retired: python 3.11 reached end of life on 2027-10-31",
        "nothing left to build: every tag named is retired",
    ]


def test_after_generate_only_the_latest_line_remains(
    generated_files: tuple[GeneratedFile, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(["generate", "--check", "--date", "2027-11-01"], capsys) == (0, [], [STALE_2027])
    code, out, err = _run(["generate", "--date", "2027-11-01"], capsys)
    assert (code, out, err) == (
        0,
        [],  # progress, not output: standard output stays for what a command produces
        [RETIRED_3_11, LATEST_TO_3_15, "wrote docker-bake.hcl for 2027-11-01", "wrote README.md for 2027-11-01"],
    )
    assert all(generated_for(file.path.read_text()) == date(2027, 11, 1) for file in generated_files)
    assert _run(["generate", "--check", "--date", "2027-11-01"], capsys) == (
        0,
        [],
        ["docker-bake.hcl is up to date", "README.md is up to date"],
    )
    code, _, err = _run(["plan", "--date", "2027-11-01"], capsys)
    assert (code, err) == (0, [LATEST_TO_3_15])


def _end_of_life_dates() -> list[date]:
    return sorted({version.eol for version in load_matrix(date.max).retired})


@pytest.mark.parametrize("day_after", [eol + timedelta(days=1) for eol in _end_of_life_dates()], ids=str)
@pytest.mark.parametrize("command", ["plan", "select"])
def test_every_day_after_an_end_of_life_runs(day_after: date, command: str, capsys: pytest.CaptureFixture[str]) -> None:
    matrix = load_matrix(day_after)
    code, out, err = _run([command, "--date", day_after.isoformat()], capsys)
    assert code == 0
    assert len(out) == len(matrix.family)
    if command == "select":
        assert out == [image.name for image in matrix.family]
    newly_retired = [version for version in matrix.retired if version.eol > GENERATED_ON]
    assert [line for line in err if line.startswith("retired: ")] == [
        f"retired: {version}; no longer built" for version in newly_retired
    ]
    assert [line.startswith("stale: ") for line in err].count(True) == (1 if newly_retired else 0)
    assert [line.startswith("latest: ") for line in err].count(True) == (
        1 if matrix.images and matrix.retired_default else 0
    )
    assert [line.startswith("nothing left to build: ") for line in err].count(True) == (0 if matrix.images else 1)


def test_generate_writes_the_dates_matrix_after_every_end_of_life(
    generated_files: tuple[GeneratedFile, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    for day_after in [eol + timedelta(days=1) for eol in _end_of_life_dates()]:
        assert _run(["generate", "--date", day_after.isoformat()], capsys)[0] == 0
        assert _run(["generate", "--check", "--date", day_after.isoformat()], capsys) == (
            0,
            [],
            ["docker-bake.hcl is up to date", "README.md is up to date"],
        )
        code, _, err = _run(["plan", "--date", day_after.isoformat()], capsys)
        assert code == 0
        assert not [line for line in err if line.startswith(("retired: ", "stale: "))]


def test_merge_names_tags_no_runner_staged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATE", GENERATED_ON.isoformat())  # python3.13 is a current tag then, not a retired one
    digests = tmp_path / "amd64.json"
    digests.write_text('{"python3.11-slim": "r@sha256:' + "0" * 64 + '"}')
    assert main(["merge", "python3.13", "--to", "r", "--digests", str(digests)]) == 2
    assert capsys.readouterr().err == "error: no staged images of python3.13 in the --digests files\n"
    digests.write_text('["not", "an", "object"]')
    assert main(["merge", "--to", "r", "--digests", str(digests)]) == 2
    assert "is not a JSON object of tag: repository@sha256:..." in capsys.readouterr().err


def test_test_on_one_platform_builds_that_platform_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    """`nox -s test -- TAG --platform=linux/amd64`: no emulated build of the other platform."""
    built: list[tuple[str, tuple[str, ...]]] = []
    scopes: list[list[str]] = []

    def build(images: list[Image], settings: object) -> list[str]:
        built.extend((image.name, image.platforms) for image in images)
        return []

    monkeypatch.setattr(bake.commands, "build", build)
    monkeypatch.setattr(bake.commands, "_pytest", lambda tag, scope, args, settings: scopes.append(list(scope)))
    assert main(["test", "python3.11-slim", "--platform=linux/amd64", "--date=2026-11-24"]) == 0
    assert built == [("python3.11-slim", ("linux/amd64",))]
    assert scopes == [["--platform=linux/amd64"]]
    built.clear()
    assert main(["test", "python3.11-slim", "--date=2026-11-24"]) == 0
    assert built == [("python3.11-slim", ("linux/amd64", "linux/arm64"))]
